/**
 * Fleet rows that break the contract (DESIGN.md §2): a tenant without a name,
 * a routing row without an email or an updated_at. A sync never drops or
 * rewrites such a row silently: it stores it with a fallback the reason names,
 * or leaves it out, and either way counts it here, in its result, its summary
 * and its sync_runs stats.
 */
export interface InvalidRows {
  /** What is wrong with them, and what the sync did about it. */
  reason: string
  /** Stored anyway, with the fallback the reason names (true), or left out by this run (false). */
  kept: boolean
  rows: number
  /** The first few ids (up to MAX_IDS), to look into; a row with no usable id has none to show. */
  ids: number[]
}

const MAX_IDS = 5

/** A fleet id: a positive safe integer, as a number or as the digits a driver returns for a BIGINT. */
export const isId = (value: unknown): boolean =>
  (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) || (typeof value === 'string' && /^\d{1,15}$/.test(value) && !/^0+$/.test(value))

/** Collects invalid rows by reason, in the order the reasons were first met. */
export class InvalidTally {
  private readonly groups = new Map<string, InvalidRows>()

  /** One row (`id` null when it has no usable one), or `rows` rows whose first ids are `ids`. */
  add(reason: string, kept: boolean, id: number | null, rows = 1, ids: readonly number[] = id === null ? [] : [id]): void {
    if (rows <= 0) return
    let group = this.groups.get(reason)
    if (!group) {
      group = {reason, kept, rows: 0, ids: []}
      this.groups.set(reason, group)
    }
    group.rows += rows
    for (const each of ids) if (group.ids.length < MAX_IDS && !group.ids.includes(each)) group.ids.push(each)
  }

  get total(): number {
    let total = 0
    for (const group of this.groups.values()) total += group.rows
    return total
  }

  get list(): InvalidRows[] {
    return [...this.groups.values()].map((group) => ({...group, ids: [...group.ids]}))
  }
}

/** One line per reason, for a human summary: "name is NULL: stored with an empty name (3 rows: ids 4, 9, 12)". */
export function invalidLines(groups: readonly InvalidRows[]): string[] {
  return groups.map((g) => {
    const ids = g.ids.length === 0 ? '' : `: id${g.ids.length > 1 ? 's' : ''} ${g.ids.join(', ')}${g.rows > g.ids.length ? ', …' : ''}`
    return `${g.reason} (${g.rows} row${g.rows === 1 ? '' : 's'}${ids})`
  })
}
