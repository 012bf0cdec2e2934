import type {Knex} from 'knex'

import * as initial from './20261121000000_initial.js'
import * as routingCacheSwap from './20261122000000_routing_cache_swap.js'
import * as webhookEvents from './20261123000000_webhook_events.js'
import * as authSessions from './20261123000001_auth_sessions.js'
import * as impersonationTicket from './20261124000000_impersonation_ticket.js'
import * as keyRetirement from './20261125000300_key_retirement.js'
import * as tenantHealth from './20261129000000_tenant_health.js'
import * as billingPlans from './20261130000000_billing_plans.js'
import * as billingLedger from './20261130000100_billing_ledger.js'
import * as billingStatusSchedule from './20261130000200_billing_status_schedule.js'
import * as moneyBigint from './20261130000300_money_bigint.js'
import * as jobs from './20261201000000_jobs.js'
import * as placement from './20261201000100_placement.js'
import * as jobStepAudit from './20261201000200_job_step_audit.js'
import * as alerts from './20261202000000_alerts.js'

export interface Migration {
  name: string
  up(knex: Knex): Promise<void>
  down(knex: Knex): Promise<void>
}

/** Every migration, oldest first. A new migration is a new file listed here. */
export const migrations: Migration[] = [
  {name: '20261121000000_initial', ...initial},
  {name: '20261122000000_routing_cache_swap', ...routingCacheSwap},
  {name: '20261123000000_webhook_events', ...webhookEvents},
  {name: '20261123000001_auth_sessions', ...authSessions},
  {name: '20261124000000_impersonation_ticket', ...impersonationTicket},
  {name: '20261125000300_key_retirement', ...keyRetirement},
  {name: '20261129000000_tenant_health', ...tenantHealth},
  {name: '20261130000000_billing_plans', ...billingPlans},
  {name: '20261130000100_billing_ledger', ...billingLedger},
  {name: '20261130000200_billing_status_schedule', ...billingStatusSchedule},
  {name: '20261130000300_money_bigint', ...moneyBigint},
  {name: '20261201000000_jobs', ...jobs},
  {name: '20261201000100_placement', ...placement},
  {name: '20261201000200_job_step_audit', ...jobStepAudit},
  {name: '20261202000000_alerts', ...alerts},
]
