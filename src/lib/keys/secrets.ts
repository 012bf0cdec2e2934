import type {SecretLocation} from '../crypto/secret-box.js'

/**
 * Where the control database holds secret boxes, for keys:rotate (which
 * re-encrypts them) and keys:prune (which keeps every key one of them uses).
 * Later features add theirs here.
 */

/** Columns whose whole value is a secret box, bound to its row's id. */
export const SECRET_COLUMNS: ReadonlyArray<{table: string; column: string}> = [{table: 'rds_instances', column: 'password_enc'}]

/**
 * A secret box inside a JSON object stored in a text column: the string at
 * `path`, bound to the value of the object's own `boundTo` field (so that a
 * ciphertext copied into another row does not decrypt). Rows whose object has
 * no string there hold none.
 */
export interface SecretJsonField {
  table: string
  column: string
  path: readonly string[]
  boundTo: string
}

/** The owner's bcrypt hash in a tenant creation's input (provisioning/input.ts), bound to the job's request id. */
export const JOB_OWNER_HASH: SecretJsonField = {table: 'jobs', column: 'input', path: ['owner', 'passwordHashEnc'], boundTo: 'requestId'}

export const SECRET_JSON_FIELDS: readonly SecretJsonField[] = [JOB_OWNER_HASH]

/** Where a secret of `field` is bound, for the object whose `boundTo` field is `boundValue`. */
export const jsonFieldLocation = (field: SecretJsonField, boundValue: string): SecretLocation => ({
  table: field.table,
  column: `${field.column}.${field.path.join('.')}`,
  rowId: boundValue,
})
