import {UserError} from '../../errors/index.js'
import {iso, toMs} from './instant.js'
import {divRound, ratio, type Ratio} from './money.js'
import {splitPeriods, type PeriodUnit} from './periods.js'
import {describePolicies, resolvePolicies, type PolicyLine} from './policies.js'
import {tenantSeries, type SeriesPoint, type TenantSeries} from './series.js'
import {type Instant, type Movement, type MovementType, type MrrPolicies, type Standing, type TenantTimeline} from './types.js'

/** One tenant's MRR at an instant. */
export interface TenantMrr {
  tenantId: string | number
  tenantName: string
  rdsId: string | number | null
  mrrMinor: number
  planCode: string | null
  standing: Standing
}

export interface CurrencyMrr {
  currency: string
  digits: number
  totalMinor: number
  /** Paying customers and paused ones (still customers under the `contraction` pause policy). */
  customers: number
  payingCustomers: number
  /** Tenants that are customers at the instant, in input order. */
  tenants: TenantMrr[]
}

export interface MrrAtResult {
  at: string
  policies: MrrPolicies
  currencies: CurrencyMrr[]
}

/** MRR by plan or by RDS at a period's end. */
export interface MrrShare<K> {
  key: K
  mrrMinor: number
  payingCustomers: number
}

/** The figures of one currency in one period `[start, end)`. */
export interface PeriodFigures {
  period: string
  start: string
  end: string
  /** MRR in force just before `start` (all changes dated before it). */
  mrrStartMinor: number
  /** MRR in force just before `end`: the period's last value. */
  mrrEndMinor: number
  arrStartMinor: number
  arrEndMinor: number
  newMinor: number
  expansionMinor: number
  contractionMinor: number
  churnMinor: number
  reactivationMinor: number
  /** new + expansion + reactivation − contraction − churn = mrrEnd − mrrStart. */
  netChangeMinor: number
  movementCounts: Record<MovementType, number>
  customersStart: number
  customersEnd: number
  payingCustomersStart: number
  payingCustomersEnd: number
  /** Churn movements in the period (a customer lost twice counts twice). */
  customersLost: number
  /** customers lost / customers at start. */
  logoChurnRate: Ratio
  /** (churn + contraction) / MRR at start. */
  grossMrrChurnRate: Ratio
  /** (churn + contraction − expansion − reactivation) / MRR at start: negative when expansion outgrows losses. */
  netMrrChurnRate: Ratio
  /** MRR at end / paying customers at end, rounded half away from zero; null without paying customers. */
  arpaMinor: number | null
  byPlan: MrrShare<string>[]
  byRds: MrrShare<string | number | null>[]
}

/** One tenant in one period: the per-tenant export. Only tenants with MRR or a movement in the period appear. */
export interface TenantPeriodRow {
  period: string
  tenantId: string | number
  tenantName: string
  rdsId: string | number | null
  planCode: string | null
  mrrStartMinor: number
  mrrEndMinor: number
}

export interface CurrencyReport {
  currency: string
  digits: number
  periods: PeriodFigures[]
  tenants: TenantPeriodRow[]
  /** Every movement dated in the report's range, in time order. */
  movements: Movement[]
}

export interface MrrReport {
  from: string
  to: string
  by: PeriodUnit
  policies: MrrPolicies
  definitions: PolicyLine[]
  /** One report per currency, by currency code; never summed together. */
  currencies: CurrencyReport[]
}

export interface ReportRange {
  from: Instant
  to: Instant
  by: PeriodUnit
}

export interface ReportOptions {
  /**
   * Build each currency's per-tenant rows and movement log (default true).
   * Without them `tenants` and `movements` are empty and the figures the
   * same: what a terminal shows, in less time and memory.
   */
  detail?: boolean
}

function allSeries(timelines: readonly TenantTimeline[], policies: MrrPolicies, withNotes = false): TenantSeries[] {
  return timelines.map((timeline, index) => tenantSeries(timeline, index, policies, withNotes))
}

function byCurrency(series: TenantSeries[]): Map<string, TenantSeries[]> {
  const groups = new Map<string, TenantSeries[]>()
  for (const s of series) {
    const group = groups.get(s.timeline.currency)
    if (group === undefined) groups.set(s.timeline.currency, [s])
    else group.push(s)
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** The currency's digits, the same for every tenant of it, or a UserError. */
function groupDigits(currency: string, group: TenantSeries[]): number {
  const digits = group[0].digits
  if (group.some((s) => s.digits !== digits)) throw new UserError(`the tenants in ${currency} do not agree on its number of decimals`)
  return digits
}

const NOTHING: Pick<SeriesPoint, 'mrr' | 'standing' | 'planCode'> = {mrr: 0, standing: 'prospect', planCode: null}
const isCustomer = (standing: Standing) => standing === 'paying' || standing === 'paused'

/** Each currency's MRR in force at `instant` (changes dated at or before it count), per tenant and in total. */
export function mrrAt(timelines: readonly TenantTimeline[], instant: Instant, given: Partial<MrrPolicies> = {}): MrrAtResult {
  const policies = resolvePolicies(given)
  const at = toMs(instant, 'the instant')
  const currencies: CurrencyMrr[] = []
  for (const [currency, group] of byCurrency(allSeries(timelines, policies))) {
    const result: CurrencyMrr = {currency, digits: groupDigits(currency, group), totalMinor: 0, customers: 0, payingCustomers: 0, tenants: []}
    for (const s of group) {
      let state = NOTHING
      for (const p of s.points) {
        if (p.at > at) break
        state = p
      }
      if (!isCustomer(state.standing)) continue
      result.totalMinor += state.mrr
      result.customers++
      if (state.standing === 'paying') result.payingCustomers++
      const {tenantId, tenantName} = s.timeline
      result.tenants.push({tenantId, tenantName, rdsId: s.timeline.rdsId ?? null, mrrMinor: state.mrr, planCode: state.planCode, standing: state.standing})
    }
    currencies.push(result)
  }
  return {at: iso(at), policies, currencies}
}

/**
 * Orders movements gathered tenant by tenant (in input order) by time; the
 * sort is stable, so movements at the same instant keep the tenants' order.
 * ISO strings in one format sort as their instants do.
 */
function byTime(log: Movement[]): Movement[] {
  return log.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
}

/** Every movement dated in `[from, to)`, of every tenant and currency, in time order. */
export function movements(timelines: readonly TenantTimeline[], from: Instant, to: Instant, given: Partial<MrrPolicies> = {}): Movement[] {
  const policies = resolvePolicies(given)
  const start = toMs(from, 'the start')
  const end = toMs(to, 'the end')
  if (!(end > start)) throw new UserError('the end of a range must be after its start', {hint: 'the end is exclusive: give a later date'})
  const log: Movement[] = []
  for (const s of allSeries(timelines, policies)) {
    for (const p of s.points) {
      if (p.at >= end) break
      if (p.at >= start && p.movement !== null) log.push(p.movement)
    }
  }
  return byTime(log)
}

function emptyFigures(label: string, start: number, end: number): PeriodFigures {
  const zero = ratio(0, 0)
  return {
    period: label,
    start: iso(start),
    end: iso(end),
    mrrStartMinor: 0,
    mrrEndMinor: 0,
    arrStartMinor: 0,
    arrEndMinor: 0,
    newMinor: 0,
    expansionMinor: 0,
    contractionMinor: 0,
    churnMinor: 0,
    reactivationMinor: 0,
    netChangeMinor: 0,
    movementCounts: {new: 0, expansion: 0, contraction: 0, churn: 0, reactivation: 0},
    customersStart: 0,
    customersEnd: 0,
    payingCustomersStart: 0,
    payingCustomersEnd: 0,
    customersLost: 0,
    logoChurnRate: zero,
    grossMrrChurnRate: zero,
    netMrrChurnRate: zero,
    arpaMinor: null,
    byPlan: [],
    byRds: [],
  }
}

const AMOUNT_FIELD = {
  new: 'newMinor',
  expansion: 'expansionMinor',
  contraction: 'contractionMinor',
  churn: 'churnMinor',
  reactivation: 'reactivationMinor',
} as const satisfies Record<MovementType, keyof PeriodFigures>

/** The ratios and derived figures of a period once its sums are known. */
export function finishFigures(f: PeriodFigures): void {
  f.arrStartMinor = f.mrrStartMinor * 12
  f.arrEndMinor = f.mrrEndMinor * 12
  f.netChangeMinor = f.newMinor + f.expansionMinor + f.reactivationMinor - f.contractionMinor - f.churnMinor
  f.logoChurnRate = ratio(f.customersLost, f.customersStart)
  f.grossMrrChurnRate = ratio(f.churnMinor + f.contractionMinor, f.mrrStartMinor)
  f.netMrrChurnRate = ratio(f.churnMinor + f.contractionMinor - f.expansionMinor - f.reactivationMinor, f.mrrStartMinor)
  f.arpaMinor = f.payingCustomersEnd === 0 ? null : Number(divRound(BigInt(f.mrrEndMinor), BigInt(f.payingCustomersEnd)))
}

function shares<K>(map: Map<K, MrrShare<K>>): MrrShare<K>[] {
  return [...map.values()].sort((a, b) => b.mrrMinor - a.mrrMinor || String(a.key).localeCompare(String(b.key)))
}

function addShare<K>(map: Map<K, MrrShare<K>>, key: K, mrr: number): void {
  const share = map.get(key)
  if (share === undefined) map.set(key, {key, mrrMinor: mrr, payingCustomers: 1})
  else {
    share.mrrMinor += mrr
    share.payingCustomers++
  }
}

/** One currency's report as it is built, tenant by tenant. */
interface CurrencyBuild {
  currency: string
  digits: number
  figures: PeriodFigures[]
  plans: Array<Map<string, MrrShare<string>>>
  rds: Array<Map<string | number | null, MrrShare<string | number | null>>>
  rows: TenantPeriodRow[]
  /** Each period's movements apart: sorting them period by period is the same order, in smaller sorts. */
  logs: Movement[][]
}

/** Builds the revenue report from timelines handed over one at a time (see `reportBuilder`). */
export interface ReportBuilder {
  /** Adds one timeline; its series is computed, counted and let go. */
  add(timeline: TenantTimeline): void
  /** The report of every timeline added, in the order they were added. */
  finish(): MrrReport
}

/**
 * The revenue report, built incrementally: per currency, per calendar month
 * or ISO week (UTC) of `[from, to)`, MRR at start and end, its movements,
 * customers and the rates; with the per-tenant rows and the movement log
 * unless `detail` is false. Each timeline is swept once and nothing of it is
 * kept but its sums (and its rows and movements, with detail): linear in
 * events plus tenants × periods, and memory that does not grow with the
 * ledger when detail is off.
 */
export function reportBuilder(range: ReportRange, given: Partial<MrrPolicies> = {}, options: ReportOptions = {}): ReportBuilder {
  const policies = resolvePolicies(given)
  const detail = options.detail ?? true
  const from = toMs(range.from, 'the report start')
  const to = toMs(range.to, 'the report end')
  const periods = splitPeriods(from, to, range.by)
  const builds = new Map<string, CurrencyBuild>()
  let index = 0
  const buildOf = (currency: string, digits: number): CurrencyBuild => {
    let build = builds.get(currency)
    if (build === undefined) {
      build = {
        currency,
        digits,
        figures: periods.map((p) => emptyFigures(p.label, p.start, p.end)),
        plans: periods.map(() => new Map()),
        rds: periods.map(() => new Map()),
        rows: [],
        logs: periods.map(() => []),
      }
      builds.set(currency, build)
    } else if (build.digits !== digits) throw new UserError(`the tenants in ${currency} do not agree on its number of decimals`)
    return build
  }
  return {
    add(timeline) {
      const s = tenantSeries(timeline, index++, policies, false, detail)
      const {figures, plans, rds, rows, logs} = buildOf(timeline.currency, s.digits)
      const {points} = s
      const {tenantId, tenantName} = timeline
      const rdsId = timeline.rdsId ?? null
      let i = 0
      let state = NOTHING
      while (i < points.length && points[i].at < from) state = points[i++]
      for (let k = 0; k < periods.length; k++) {
        const f = figures[k]
        const before = state
        let moved = false
        while (i < points.length && points[i].at < periods[k].end) {
          const p = points[i++]
          state = p
          if (p.movement === null) continue
          moved = true
          f[AMOUNT_FIELD[p.movement.type]] += p.movement.amountMinor
          f.movementCounts[p.movement.type]++
          if (p.movement.type === 'churn') f.customersLost++
          if (detail) logs[k].push(p.movement)
        }
        f.mrrStartMinor += before.mrr
        f.mrrEndMinor += state.mrr
        if (isCustomer(before.standing)) f.customersStart++
        if (isCustomer(state.standing)) f.customersEnd++
        if (before.standing === 'paying') f.payingCustomersStart++
        if (state.standing === 'paying') {
          f.payingCustomersEnd++
          addShare(plans[k], state.planCode ?? '', state.mrr)
          addShare(rds[k], rdsId, state.mrr)
        }
        if (detail && (moved || before.mrr > 0 || state.mrr > 0))
          rows.push({period: f.period, tenantId, tenantName, rdsId, planCode: state.planCode, mrrStartMinor: before.mrr, mrrEndMinor: state.mrr})
      }
    },
    finish() {
      const currencies: CurrencyReport[] = [...builds.values()]
        .sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0))
        .map((b) => {
          b.figures.forEach((f, k) => {
            finishFigures(f)
            f.byPlan = shares(b.plans[k])
            f.byRds = shares(b.rds[k])
          })
          return {currency: b.currency, digits: b.digits, periods: b.figures, tenants: b.rows, movements: b.logs.flatMap(byTime)}
        })
      return {from: iso(from), to: iso(to), by: range.by, policies, definitions: describePolicies(policies), currencies}
    },
  }
}

/** The revenue report of `timelines` (see `reportBuilder`). */
export function report(timelines: readonly TenantTimeline[], range: ReportRange, given: Partial<MrrPolicies> = {}, options: ReportOptions = {}): MrrReport {
  const builder = reportBuilder(range, given, options)
  for (const timeline of timelines) builder.add(timeline)
  return builder.finish()
}

/** One billing event of a tenant and what it did. */
export interface ExplainedEvent {
  eventId: string | number
  at: string
  /** When it took effect (a cancellation at the end of its paid period), or null when a later event replaced it first. */
  effectiveAt: string | null
  status: string
  planCode: string
  /** The monthly value the event's state computes to on its own (0 for a trial, pause or cancellation). */
  mrrMinor: number
  arithmetic: string
  /** The movements it decided; empty when it left MRR as it was (e.g. annual to monthly at the same monthly value). */
  movements: MovementType[]
}

export interface MrrExplanation {
  tenantId: string | number
  tenantName: string
  rdsId: string | number | null
  currency: string
  digits: number
  policies: MrrPolicies
  definitions: PolicyLine[]
  /** MRR after the last change of the history. */
  mrrMinor: number
  standing: Standing
  movements: Movement[]
  events: ExplainedEvent[]
}

/** Every movement of one tenant, with the events behind them and the arithmetic: what `billing:explain` shows. */
export function explain(timeline: TenantTimeline, given: Partial<MrrPolicies> = {}): MrrExplanation {
  const policies = resolvePolicies(given)
  const series = tenantSeries(timeline, 0, policies, true)
  const moves = series.points.flatMap((p) => (p.movement === null ? [] : [p.movement]))
  const decided = new Map<string | number, MovementType[]>()
  for (const m of moves) {
    for (const id of m.eventIds) decided.set(id, [...(decided.get(id) ?? []), m.type])
  }
  const last = series.points[series.points.length - 1] ?? NOTHING
  return {
    tenantId: timeline.tenantId,
    tenantName: timeline.tenantName,
    rdsId: timeline.rdsId ?? null,
    currency: timeline.currency,
    digits: series.digits,
    policies,
    definitions: describePolicies(policies),
    mrrMinor: last.mrr,
    standing: last.standing,
    movements: moves,
    events: (series.notes ?? []).map((n) => ({
      eventId: n.eventId,
      at: iso(n.at),
      effectiveAt: n.effectiveAt === null ? null : iso(n.effectiveAt),
      status: n.status,
      planCode: n.planCode,
      mrrMinor: n.mrr,
      arithmetic: n.arithmetic,
      movements: decided.get(n.eventId) ?? [],
    })),
  }
}
