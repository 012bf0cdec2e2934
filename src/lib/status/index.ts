import type {OpsContext} from '../context.js'
import {describeDriverError} from '../db/driver-errors.js'
import {DEFAULT_SLOW_MS} from '../health/rules.js'
import {runHealth} from '../rds/health.js'
import {STATUS_SECTIONS} from './sections/index.js'
import type {SectionReport, SectionState, StatusContext, StatusSection} from './types.js'

export type {SectionReport, SectionState, StatusSection} from './types.js'

export interface StatusSectionResult extends SectionReport {
  key: string
  title: string
}

export interface StatusOverview {
  generatedAt: string
  /** The worst state of the sections that have run (`never` when none has). */
  state: SectionState
  sections: StatusSectionResult[]
}

const SEVERITY: Record<SectionState, number> = {never: 0, ok: 1, warn: 2, fail: 3}

/**
 * The system overview: every section collected concurrently. A section that
 * cannot be read reports `fail` with the reason; the others are unaffected.
 */
export async function collectStatus(ctx: StatusContext, input: {sections?: readonly StatusSection[]} = {}): Promise<StatusOverview> {
  const sections = input.sections ?? STATUS_SECTIONS
  const results = await Promise.all(
    sections.map(async (section): Promise<StatusSectionResult> => {
      try {
        return {key: section.key, title: section.title, ...(await section.collect(ctx))}
      } catch (error) {
        return {
          key: section.key,
          title: section.title,
          state: 'fail',
          summary: `cannot be read: ${describeDriverError(error)}`,
          facts: [],
          data: {},
        }
      }
    }),
  )
  const state = results.reduce<SectionState>((worst, r) => (SEVERITY[r.state] > SEVERITY[worst] ? r.state : worst), 'never')
  return {generatedAt: ctx.now().toISOString(), state, sections: results}
}

/**
 * `status`: the overview; with `refreshTimeoutMs`, every active RDS probed first
 * (as rds:health does, within that many ms each) instead of read from what the
 * last check stored. `probing` runs the probe (under a spinner, say); `signal` stops it (Ctrl-C).
 */
export async function statusOverview(
  ctx: OpsContext,
  input: {
    refreshTimeoutMs?: number
    probing?: (probe: () => Promise<unknown>) => Promise<unknown>
    signal?: AbortSignal
    /** What the caller holds: a section needing a permission not among them is left out (absent: every section). */
    permissions?: readonly string[]
    /** RAIOPS_BILLING_GRACE_DAYS, for the billing section. */
    billingGraceDays?: number
  } = {},
): Promise<StatusOverview> {
  const {refreshTimeoutMs, probing = (probe) => probe(), signal, permissions, billingGraceDays} = input
  if (refreshTimeoutMs !== undefined) await probing(() => runHealth(ctx, {timeoutMs: refreshTimeoutMs, slowMs: DEFAULT_SLOW_MS, signal}))
  return collectStatus({db: ctx.db, now: () => ctx.now(), billingGraceDays}, {sections: visibleSections(permissions)})
}

/** The sections a caller holding `permissions` sees (every one when not given). */
export function visibleSections(permissions?: readonly string[]): StatusSection[] {
  return STATUS_SECTIONS.filter((s) => s.permission === undefined || permissions === undefined || permissions.includes(s.permission))
}
