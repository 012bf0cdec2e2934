import type {StatusSection} from '../types.js'
import {alertsSection} from './alerts.js'
import {auditSection} from './audit.js'
import {billingSection} from './billing.js'
import {jobsSection} from './jobs.js'
import {rdsSection} from './rds.js'
import {routingSection} from './routing.js'
import {syncSection} from './sync.js'
import {tenantsSection} from './tenants.js'

/**
 * The sections of `raiops status`, in the order shown. A new section is a new
 * file and one line here, once raiops has a job that fills it: a section that
 * could only ever say "never run" is left out. A section with a `permission`
 * is shown only to a caller who holds it (billing: billing.view; jobs: jobs.view; alerts: alerts.view).
 */
export const STATUS_SECTIONS: readonly StatusSection[] = [
  rdsSection,
  syncSection,
  tenantsSection,
  routingSection,
  billingSection,
  jobsSection,
  alertsSection,
  auditSection,
]
