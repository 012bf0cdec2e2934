import type {Permission} from '../auth/permissions.js'
import type {OpsContext} from '../context.js'

/** How a section of the overview stands: `never` when its job has never run. */
export type SectionState = 'ok' | 'warn' | 'fail' | 'never'

export interface StatusFact {
  label: string
  value: string
  /** Colours the value in the terminal. */
  tone?: SectionState
}

/** What one section reports: a state, a one-line summary, facts to show and data for --json. */
export interface SectionReport {
  state: SectionState
  summary: string
  facts: StatusFact[]
  data: Record<string, unknown>
}

export type StatusContext = Pick<OpsContext, 'db' | 'now'> & {
  /** Days after an unpaid billing period's end before it is overdue (RAIOPS_BILLING_GRACE_DAYS; default 7). */
  billingGraceDays?: number
}

/**
 * One section of `raiops status`. Each lives in its own file under
 * `sections/` and is listed once in `sections/index.ts`; a section reads
 * what it needs and knows nothing of the others.
 */
export interface StatusSection {
  key: string
  title: string
  /** The permission a caller needs to see the section (beyond the overview's own): left out for a caller without it. */
  permission?: Permission
  collect(ctx: StatusContext): Promise<SectionReport>
}

/** A section whose job has never run: the summary says the command that fills it. */
export const neverRun = (next: string): Omit<SectionReport, 'data'> => ({state: 'never', summary: `never run: ${next}`, facts: []})

/** Whether a sync of this kind has ever run (an empty cache after a run is not "never run"). */
export async function hasRun(ctx: StatusContext, kind: string): Promise<boolean> {
  return (await ctx.db('sync_runs').where({kind}).first('id')) !== undefined
}
