import type {StatusSection} from '../types.js'
import {auditSection} from './audit.js'
import {billingSection} from './billing.js'
import {rdsSection} from './rds.js'
import {routingSection} from './routing.js'
import {syncSection} from './sync.js'
import {tenantsSection} from './tenants.js'

/** The sections of `raiops status`, in the order shown. A new section is a new file and one line here. */
export const STATUS_SECTIONS: readonly StatusSection[] = [rdsSection, syncSection, tenantsSection, routingSection, billingSection, auditSection]
