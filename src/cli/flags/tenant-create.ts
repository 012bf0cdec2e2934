import {Flags} from '@oclif/core'

import type {TenantCreateRequest} from '../../lib/provisioning/prepare.js'
import {setFlags, subscriptionTerms} from './billing.js'

/** tenant:create's flags: the tenant, its owner, its locations, a plan with billing:set's options, where it goes, how it runs. */
export const tenantCreateFlags = {
  name: Flags.string({description: 'the tenant name (unique on its RDS)', required: true}),
  'contact-name': Flags.string({description: 'the primary contact (default: the owner)'}),
  'contact-email': Flags.string({description: "the primary contact's email (default: the owner's)"}),
  'owner-name': Flags.string({description: "the owner user's name", required: true}),
  'owner-email': Flags.string({description: "the owner user's email (their login)", required: true}),
  'owner-password-stdin': Flags.boolean({description: "read the owner's password from standard input (first line)", exclusive: ['owner-without-password']}),
  'owner-without-password': Flags.boolean({description: 'no password: the owner cannot log in until it is reset'}),
  locations: Flags.string({description: 'a count (3: "Location 1" to "Location 3") or a comma list of names', default: '1'}),
  plan: Flags.string({description: 'put it on this plan (see plan:list), with the billing:set options below'}),
  'plan-version': {...setFlags['plan-version'], dependsOn: ['plan']},
  quantity: {...setFlags.quantity, dependsOn: ['plan']},
  'quantity-from': {...setFlags['quantity-from'], dependsOn: ['plan']},
  discount: {...setFlags.discount, dependsOn: ['plan']},
  'discount-until': {...setFlags['discount-until'], dependsOn: ['plan']},
  'trial-until': {...setFlags['trial-until'], dependsOn: ['plan']},
  'force-currency': {...setFlags['force-currency'], dependsOn: ['plan']},
  rds: Flags.string({description: 'create it on this RDS (name or id) instead of where placement chooses'}),
  detach: Flags.boolean({description: 'create the job and print its id; a `job:work` worker runs it'}),
}

type Parsed = {
  name: string
  'contact-name'?: string
  'contact-email'?: string
  'owner-name': string
  'owner-email': string
  locations: string
  plan?: string
  'plan-version'?: number
  quantity?: number
  'quantity-from'?: 'locations' | 'users'
  discount?: string
  'discount-until'?: Date
  'trial-until'?: Date
  'force-currency'?: boolean
  rds?: string
}

/** The service's request from the flags, the owner's password and the settings. */
export function tenantCreateRequest(
  flags: Parsed,
  password: string | null,
  config: {placementCapacity: number; ghostDomain: string; billingGraceDays: number},
): TenantCreateRequest {
  return {
    name: flags.name,
    contactName: flags['contact-name'],
    contactEmail: flags['contact-email'],
    owner: {name: flags['owner-name'], email: flags['owner-email'], password},
    locations: flags.locations,
    plan: flags.plan === undefined ? undefined : {code: flags.plan, ...subscriptionTerms(flags)},
    rds: flags.rds,
    capacity: config.placementCapacity,
    ghostDomain: config.ghostDomain,
    graceDays: config.billingGraceDays,
  }
}
