import type {ChalkInstance} from 'chalk'

import type {CreateTenantResult} from '../../lib/provisioning/create.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {jobEndLine} from './job.js'

/** What tenant:create did: the job, and the tenant when it is done, or what to do next. */
export function renderTenantCreate(c: ChalkInstance, result: CreateTenantResult): string {
  const safe = escapeControlDeep(result)
  const {job} = safe
  if (safe.detached)
    return `job ${job.id} queued: tenant "${job.tenantName}" (placement now: ${safe.placement.name}); \`raiops job:work\` runs it, \`raiops job:show ${job.id}\` follows it\n`
  if (safe.tenant)
    return `created tenant "${job.tenantName}" on ${c.bold(safe.tenant.rds.name)}: raiops id ${safe.tenant.tenantMasterId}, ${safe.tenant.rds.name}:${safe.tenant.remoteTenantId}, owner user ${safe.tenant.ownerUserId} (job ${job.id})\n`
  return `${jobEndLine(c, result.job)}\n`
}
