import type {StatusSection} from '../types.js'
import {auditSection} from './audit.js'
import {rdsSection} from './rds.js'
import {routingSection} from './routing.js'
import {syncSection} from './sync.js'
import {tenantsSection} from './tenants.js'

/**
 * The sections of `raiops status`, in the order shown. A new section is a new
 * file and one line here, once raiops has a job that fills it: a section that
 * could only ever say "never run" (billing alerts, before billing exists) is left out.
 */
export const STATUS_SECTIONS: readonly StatusSection[] = [rdsSection, syncSection, tenantsSection, routingSection, auditSection]
