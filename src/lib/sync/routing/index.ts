import type {OpsContext} from '../../context.js'
import {describeDriverError} from '../../db/driver-errors.js'
import {UserError} from '../../errors/index.js'
import {findMaster} from '../../rds/repository.js'
import {connectionSpecFor} from '../../rds/service.js'
import {finishRun, startRun} from '../runs.js'
import {syncFull} from './full.js'
import {syncIncremental} from './incremental.js'
import type {RoutingSyncOptions, RoutingSyncReport} from './model.js'
import {NULL_UPDATED_AT, rowsWithoutTime} from './source.js'
import {Tally} from './tally.js'
import {syncTruncate} from './truncate.js'
import type {Watermark} from './watermark.js'

export type {RoutingCounts, RoutingMode, RoutingSyncOptions, RoutingSyncReport} from './model.js'
export {WATERMARK_OVERLAP_MS} from './watermark.js'

/**
 * Copies the master RDS's user_email_routing into the cache (incremental by
 * default; `full` reconciles everything including deletions; `truncate`
 * rebuilds). Writes one sync_runs row. The caller holds the `routing` lease.
 * A failure is reported in the result (status failed), the cache left as the
 * last committed state.
 */
export async function syncRouting(ctx: OpsContext, options: RoutingSyncOptions): Promise<RoutingSyncReport> {
  const master = await findMaster(ctx.db)
  if (!master) throw new UserError('no master RDS: the routing directory is read from it', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  const started = ctx.now()
  const startedMs = performance.now()
  const runId = await startRun(ctx.db, 'routing', Number(master.id), started)
  const tally = new Tally()
  const batchSize = options.batchSize ?? 5000
  let watermark: Watermark | null = null
  let error: string | null = null
  try {
    const source = await ctx.fleet.get(await connectionSpecFor(ctx, master))
    const untimed = await rowsWithoutTime(source, options.queryTimeoutMs)
    const copied = options.mode !== 'incremental'
    tally.invalidRows(copied ? NULL_UPDATED_AT.copied : NULL_UPDATED_AT.incremental, copied, null, untimed.rows, untimed.ids)
    const run = options.mode === 'full' ? syncFull : options.mode === 'truncate' ? syncTruncate : syncIncremental
    watermark = await run(ctx, source, {...options, batchSize}, tally)
  } catch (caught) {
    error =
      options.signal?.aborted && options.signal.reason instanceof Error
        ? options.signal.reason.message
        : describeDriverError(caught, {quietMs: ctx.fleet.quietMs(Number(master.id)), rds: master.name})
    if (caught instanceof UserError) error = caught.message
  }
  const finished = ctx.now()
  const durationMs = Math.round(performance.now() - startedMs)
  const status = error === null ? 'ok' : 'failed'
  const invalidRows = tally.invalidGroups
  const stats = {...tally.counts, mode: options.mode, durationMs, ...(invalidRows.length > 0 ? {invalidRows} : {})}
  await finishRun(ctx.db, runId, {status, stats, error, finishedAt: finished}).catch(() => undefined)
  return {
    kind: 'routing',
    mode: options.mode,
    status,
    master: {id: Number(master.id), name: master.name},
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs,
    counts: tally.counts,
    unlinkedTenants: tally.unlinkedTenants,
    invalidRows,
    watermark: watermark ? {updatedAt: new Date(watermark.updatedAt).toISOString(), id: watermark.id} : null,
    error,
  }
}
