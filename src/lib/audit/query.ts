import type {OpsContext} from '../context.js'
import {RDS_TABLE} from '../db/tables.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {parseTimeFlag} from '../time/parse-time.js'
import {listAudit, type AuditFilter, type AuditView} from './read.js'

/** The filter flags as given on the command line. */
export interface AuditFilterInput {
  actor?: string
  action?: string
  tenant?: number
  rds?: string
  since?: string
  until?: string
  limit: number
}

/** Turns the filter flags into a filter: times parsed, the RDS named by id or name looked up. */
export async function auditFilter(ctx: Pick<OpsContext, 'db' | 'now'>, input: AuditFilterInput): Promise<AuditFilter> {
  const {db} = ctx
  const now = ctx.now()
  const since = input.since === undefined ? undefined : parseTimeFlag(input.since, '--since', now)
  const until = input.until === undefined ? undefined : parseTimeFlag(input.until, '--until', now)
  if (since && until && since >= until) throw new UserError('--since must be before --until')
  let rdsInstanceId: number | undefined
  if (input.rds !== undefined) {
    // By id or by name, as every command names an RDS; read here so that audit stays below rds.
    const ref = input.rds.trim()
    const rds = await db(RDS_TABLE)
      .where(/^\d+$/.test(ref) ? {id: Number(ref)} : {name: ref})
      .first('id')
    if (!rds) throw new NotFoundError(`no RDS "${input.rds}"`, {hint: 'see `raiops rds:list`'})
    rdsInstanceId = Number(rds.id)
  }
  return {actor: input.actor, action: input.action, tenantMasterId: input.tenant, rdsInstanceId, since, until, limit: input.limit}
}

/** `audit:list`: the entries matching the filter flags, newest first. */
export async function listAuditEntries(ctx: Pick<OpsContext, 'db' | 'now'>, input: AuditFilterInput): Promise<AuditView[]> {
  return listAudit(ctx, await auditFilter(ctx, input))
}
