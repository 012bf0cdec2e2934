import {inspectJson} from '../json/walk.js'

/**
 * What an audit entry may hold so that every engine stores it exactly as it was
 * hashed: the column sizes of migrations/ (MySQL refuses a longer value in strict
 * mode and cuts it otherwise; PostgreSQL refuses NUL and integers out of range).
 */
export const AUDIT_LIMITS = {
  actor: 255,
  action: 128,
  targetType: 64,
  targetId: 128,
  /** rds_instance_id and tenant_master_id: INT UNSIGNED on MySQL, integer on PostgreSQL. */
  id: 2_147_483_647,
  /** old_values and new_values as stored (redacted, serialised): TEXT on MySQL, counted in bytes of UTF-8. */
  valueBytes: 65_535,
  /** How deeply values may nest: deeper ones are refused when written, and shown as their stored text when read. */
  valueDepth: 32,
} as const

/** C0 controls, DEL and C1 controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/
/** Half a surrogate pair: JSON can carry one, but no engine stores it as it was hashed. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why a name-like text (an id, an action, an actor) cannot be stored, or null. Lengths count characters, as the columns do. */
export function textProblem(text: string, maxLength: number): string | null {
  if (CONTROL.test(text)) return 'must not hold control characters'
  if (UNPAIRED_SURROGATE.test(text)) return 'must be valid Unicode text (it holds half a surrogate pair)'
  let length = 0
  for (const _ of text) if (++length > maxLength) return `must be at most ${maxLength} characters`
  return null
}

/** Why a value (old or new values) cannot be stored, or null: nested too deep, or a number JSON cannot write back. */
export function valuesProblem(value: unknown): string | null {
  const {depth, nonFinite} = inspectJson(value)
  if (depth > AUDIT_LIMITS.valueDepth) return `must not nest deeper than ${AUDIT_LIMITS.valueDepth} levels`
  if (nonFinite) return 'must not hold a number out of range (JSON reads it as infinity)'
  return null
}
