import {appendAudit} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {describeDriverError} from '../db/driver-errors.js'
import {DeadlineError} from '../deadline.js'
import {NotFoundError} from '../errors/index.js'
import {fanOut, type FanOutResult, type Shard} from '../fleet/fan-out.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {ghostEmail, ghostOperators, type GhostOperator} from '../user/ghosts.js'
import {forgetGhostMark, planKey, readGhostMarks, targetKey, writeGhostMark} from './ghost-marks.js'
import {syncGhostsOn, ZERO_GHOST_COUNTS, type GhostCheck, type GhostCounts} from './ghost-writes.js'
import {finishRun, recordRun, startRun} from './runs.js'
import {syncTargets, type SyncStatus} from './tenants.js'

export type {GhostCheck, GhostCounts} from './ghost-writes.js'

export interface GhostSyncOptions {
  /** RDS names or ids (active or not); absent: every active RDS. */
  refs?: readonly string[]
  shard?: Shard
  /** Operators (id or email) whose ghosts are made (and, with prune, pruned); absent: every operator. */
  operators?: readonly string[]
  /** Count what would change, write nothing. */
  dryRun: boolean
  /** Suspend the ghosts of operators who may no longer impersonate (disabled, or their role lost tenant.impersonate). */
  prune: boolean
  /** Check every ghost row, even where the counts read as the last run left them. */
  full?: boolean
  /** The ghosts' email domain (RAIOPS_GHOST_DOMAIN). */
  domain: string
  concurrency: number
  /** Each RDS's limit, ms. */
  deadlineMs: number
  signal?: AbortSignal
  onEvent?: (event: GhostSyncEvent) => void
}

/** One RDS of a ghost-user sync. */
export interface RdsGhostSync {
  id: number
  name: string
  status: 'ok' | 'failed'
  /** Tenants on the RDS (null when it was not read). */
  tenants: number | null
  counts: GhostCounts
  /** counts: the counts read as the last run left them, so no row was read; rows: every ghost row was checked (null: failed). */
  check: GhostCheck | null
  durationMs: number
  error: string | null
}

export type GhostSyncEvent = {type: 'done'; result: RdsGhostSync; done: number; total: number}

export interface GhostSyncReport {
  kind: 'ghost-users'
  status: SyncStatus
  dryRun: boolean
  /** Whether anything was (dry run: would be) written. */
  changed: boolean
  domain: string
  /** The operators every tenant has a ghost of. */
  operators: Array<{id: number; name: string; email: string}>
  /** Operators named with --operator who may not impersonate (pruned with --prune, else left as they are). */
  notEligible: Array<{id: number; email: string}>
  startedAt: string
  finishedAt: string
  durationMs: number
  totals: GhostCounts
  rds: RdsGhostSync[]
}

const addGhostCounts = (a: GhostCounts, b: GhostCounts): GhostCounts => ({
  inserted: a.inserted + b.inserted,
  updated: a.updated + b.updated,
  pruned: a.pruned + b.pruned,
  unchanged: a.unchanged + b.unchanged,
})

/** The operators --operator names (id or email), each once; unknown ones are bad input. */
async function namedOperators(ctx: Pick<OpsContext, 'db'>, refs: readonly string[]): Promise<Array<{id: number; email: string}>> {
  const found: Array<{id: number; email: string}> = []
  for (const ref of refs) {
    const trimmed = ref.trim()
    const row = (await ctx
      .db('operators')
      .where((q) => (/^\d+$/.test(trimmed) ? q.where({id: Number(trimmed)}) : q.whereRaw('lower(email) = ?', [trimmed.toLowerCase()])))
      .first('id', 'email')) as {id: number | string; email: string} | undefined
    if (!row) throw new NotFoundError(`no operator "${ref}"`, {hint: 'see `raiops operator:list`'})
    if (!found.some((o) => o.id === Number(row.id))) found.push({id: Number(row.id), email: row.email})
  }
  return found
}

function toRdsResult(outcome: FanOutResult<RdsInstanceRow, {tenants: number; counts: GhostCounts; check: GhostCheck; durationMs: number}>): RdsGhostSync {
  const base = {id: Number(outcome.item.id), name: outcome.item.name}
  return outcome.ok
    ? {...base, status: 'ok', ...outcome.value, error: null}
    : {...base, status: 'failed', tenants: null, counts: {...ZERO_GHOST_COUNTS}, check: null, durationMs: outcome.ms, error: outcome.error}
}

/**
 * Makes every tenant of every active RDS (or the named ones, or a shard) have
 * exactly one ghost user per operator allowed to impersonate: missing ones
 * created, names and status brought up to date, and with `prune` the ghosts of
 * other operators suspended (never deleted: the RAI application's rows may
 * refer to them). Each RDS in its own transaction and within its deadline, set-
 * based; a server that fails, or whose `users` lacks is_ghost, is reported and
 * the others are done. A sync_runs row per RDS and for the run; one audit entry
 * for a run that changed something (counts only). The caller holds the lease.
 */
export async function syncGhostUsers(ctx: OpsContext, options: GhostSyncOptions): Promise<GhostSyncReport> {
  const started = ctx.now()
  const startedMs = performance.now()
  const eligible = await ghostOperators(ctx.db)
  const named = options.operators && options.operators.length > 0 ? await namedOperators(ctx, options.operators) : null
  const wanted: GhostOperator[] = named ? eligible.filter((o) => named.some((n) => n.id === o.id)) : eligible
  const notEligible = named ? named.filter((n) => !eligible.some((o) => o.id === n.id)) : []
  const prune = options.prune ? {keep: eligible.map((o) => o.id), only: named ? notEligible.map((o) => o.id) : null} : null
  const rows = await syncTargets(ctx.db, options.refs, options.shard)
  const plan = planKey({wanted, domain: options.domain, prune})
  // The census counts the ghosts of every operator there is, by exact email, so a ghost of anyone appearing or going is seen.
  const censusEmails = ((await ctx.db('operators').select('id').orderBy('id')) as Array<{id: unknown}>).map((o) => ghostEmail(Number(o.id), options.domain))
  const marks = options.full
    ? new Map()
    : await readGhostMarks(
        ctx.db,
        rows.map((row) => Number(row.id)),
      )
  if (rows.some((row) => row.password_enc)) await ctx.keyring()
  const total = rows.length
  let done = 0

  const settled = await fanOut(
    rows,
    async (row, deadline) => {
      const id = Number(row.id)
      const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
      // At the deadline the server's connections are cut: its open transaction is rolled back by the server.
      const cut = () => ctx.fleet.abandon(id)
      deadline.addEventListener('abort', cut, {once: true})
      const t0 = performance.now()
      // The run's row is written while the RDS is reached and counted; a write waits for it (and fails with it),
      // and first forgets the RDS's mark, so a run stopped between its commit and the new mark leaves none.
      const opened = options.dryRun ? Promise.resolve(null) : startRun(ctx.db, 'ghost-users', id, ctx.now())
      opened.catch(() => undefined)
      const beforeWrite = async () => {
        await opened
        await forgetGhostMark(ctx.db, id)
      }
      try {
        const db = await ctx.fleet.get(await connectionSpecFor(ctx, row))
        const {tenants, counts, check, mark} = await syncGhostsOn(
          db,
          {
            wanted,
            prune,
            domain: options.domain,
            dryRun: options.dryRun,
            signal,
            key: {plan, target: targetKey(row)},
            previous: marks.get(id) ?? null,
            full: options.full ?? false,
            censusEmails,
            beforeWrite,
          },
          ctx.now(),
        )
        const durationMs = Math.round(performance.now() - t0)
        const runId = await opened
        // Past the RDS's commit, what it did is the result (and is audited): a run row or mark that cannot be
        // written costs the next run a check of every row (an unclosed run row is closed as interrupted), no more.
        await Promise.all([
          runId === null
            ? null
            : finishRun(ctx.db, runId, {status: 'ok', stats: {...counts, tenants, check, durationMs}, finishedAt: ctx.now()}).catch(() => undefined),
          mark && !options.dryRun ? writeGhostMark(ctx.db, id, mark, ctx.now()).catch(() => undefined) : null,
        ])
        return {tenants, counts, check, durationMs}
      } catch (error) {
        const runId = await opened.catch(() => null)
        const stopped = signal.aborted && signal.reason instanceof Error && !(signal.reason instanceof DeadlineError) ? signal.reason : null
        const message = stopped ? stopped.message : describeDriverError(signal.aborted ? signal.reason : error, {quietMs: ctx.fleet.quietMs(id), rds: row.name})
        if (runId !== null) {
          await finishRun(ctx.db, runId, {status: 'failed', stats: {...ZERO_GHOST_COUNTS}, error: message, finishedAt: ctx.now()}).catch(() => undefined)
        }
        throw new Error(message)
      } finally {
        deadline.removeEventListener('abort', cut)
      }
    },
    {
      concurrency: options.concurrency,
      deadlineMs: options.deadlineMs,
      onResult: (outcome) => {
        done++
        try {
          options.onEvent?.({type: 'done', result: toRdsResult(outcome), done, total})
        } catch {
          // progress display only
        }
      },
    },
  )
  const results = settled.map(toRdsResult).sort((a, b) => a.id - b.id)
  const totals = results.reduce((sum, r) => addGhostCounts(sum, r.counts), {...ZERO_GHOST_COUNTS})
  const failures = results.filter((r) => r.status === 'failed')
  const status: SyncStatus = results.length === 0 ? 'skipped' : failures.length === 0 ? 'ok' : failures.length === results.length ? 'failed' : 'partial'
  const changed = totals.inserted + totals.updated + totals.pruned > 0
  const finished = ctx.now()
  const durationMs = Math.round(performance.now() - startedMs)
  if (!options.dryRun) {
    await recordRun(ctx.db, 'ghost-users', null, {
      status,
      stats: {...totals, rds: results.length, failed: failures.length, operators: wanted.length, durationMs},
      error: failures.length > 0 ? failures.map((f) => `${f.name}: ${f.error}`).join('; ') : null,
      startedAt: started,
      finishedAt: finished,
    })
    if (changed) {
      await ctx.db.transaction((tx) =>
        appendAudit(
          tx,
          ctx.audit,
          {
            action: 'sync.ghost-users',
            targetType: 'sync',
            targetId: 'ghost-users',
            newValues: {
              ...totals,
              prune: options.prune,
              operators: wanted.map((o) => o.id),
              rds: results.filter((r) => r.counts.inserted + r.counts.updated + r.counts.pruned > 0).map((r) => ({id: r.id, ...r.counts})),
              failed: failures.map((f) => f.id),
            },
          },
          finished,
        ),
      )
    }
  }
  return {
    kind: 'ghost-users',
    status,
    dryRun: options.dryRun,
    changed,
    domain: options.domain,
    operators: wanted.map((o) => ({id: o.id, name: o.name, email: o.email})),
    notEligible,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs,
    totals,
    rds: results,
  }
}
