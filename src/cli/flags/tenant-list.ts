import {Flags} from '@oclif/core'

import {UserError} from '../../lib/errors/index.js'
import {TENANT_LIST_DEFAULT_LIMIT, TENANT_LIST_MAX_LIMIT, TENANT_SORTS, type TenantListInput, type TenantSort} from '../../lib/tenant/list.js'
import {parseDuration} from '../../lib/time/duration.js'
import {listFlags} from '../base-command.js'
import type {ListFormat} from '../output/render.js'

/** tenant:list's flags: the filters, the order, the page (or --all), and the list flags. */
export const tenantListFlags = {
  rds: Flags.string({description: 'only tenants on these RDS (name or id; repeat or separate with commas)', multiple: true, delimiter: ','}),
  status: Flags.string({
    description: 'only tenants with these statuses (as active, suspended; repeat or separate with commas)',
    multiple: true,
    delimiter: ',',
  }),
  search: Flags.string({description: 'only tenants whose name, contact name or contact email contains this text (case and accents ignored)'}),
  missing: Flags.boolean({description: 'only tenants gone upstream (marked missing by sync:tenants); by default both are listed'}),
  stale: Flags.custom<number>({
    description: 'only tenants whose cached data is older than this (as 1h, 7d), or never refreshed',
    parse: async (input) => parseDuration(input, '--stale'),
  })(),
  'min-users': Flags.integer({description: 'only tenants with at least this many users', min: 0}),
  'max-users': Flags.integer({description: 'only tenants with at most this many users', min: 0}),
  'min-health': Flags.integer({description: 'only tenants whose health score is at least this (0–100)', min: 0, max: 100}),
  'max-health': Flags.integer({description: 'only tenants whose health score is at most this (0–100)', min: 0, max: 100}),
  sort: Flags.option({options: TENANT_SORTS, default: 'name' as TenantSort, description: 'order by (ties by id; no score or never refreshed last)'})(),
  desc: Flags.boolean({description: 'in descending order'}),
  limit: Flags.integer({
    char: 'n',
    description: `tenants per page (default ${TENANT_LIST_DEFAULT_LIMIT}, at most ${TENANT_LIST_MAX_LIMIT})`,
    min: 1,
    max: TENANT_LIST_MAX_LIMIT,
    exclusive: ['all'],
  }),
  after: Flags.string({description: 'the page after this cursor (printed with the previous page, `next` in --json)', exclusive: ['page', 'all']}),
  page: Flags.integer({description: 'page N (by offset; --after is faster deep into a long list)', min: 1, max: 10_000_000, exclusive: ['after', 'all']}),
  all: Flags.boolean({description: 'stream every matching tenant, with --format csv or ndjson (not --json)', exclusive: ['after', 'page', 'limit']}),
  ...listFlags,
}

interface TenantListFlags {
  rds?: string[]
  status?: string[]
  search?: string
  missing: boolean
  stale?: number
  'min-users'?: number
  'max-users'?: number
  'min-health'?: number
  'max-health'?: number
  sort: TenantSort
  desc: boolean
  limit?: number
  after?: string
  page?: number
  all: boolean
  format: ListFormat
}

/**
 * The service's input from the flags. `--all` streams CSV or NDJSON only: a
 * table or one JSON document of every tenant would have to be built whole.
 */
export function tenantListInput(flags: TenantListFlags, json: boolean): TenantListInput {
  if (flags.all && json)
    throw new UserError('--all streams rows; --json prints one document and cannot be combined with it', {hint: 'use --all --format ndjson (or csv)'})
  if (flags.all && flags.format !== 'csv' && flags.format !== 'ndjson')
    throw new UserError(`--all streams every tenant as --format csv or ndjson, not ${flags.format}`, {hint: 'add --format csv (or ndjson)'})
  return {
    rds: flags.rds,
    status: flags.status,
    search: flags.search,
    missing: flags.missing,
    staleMs: flags.stale,
    minUsers: flags['min-users'],
    maxUsers: flags['max-users'],
    minHealth: flags['min-health'],
    maxHealth: flags['max-health'],
    sort: flags.sort,
    desc: Boolean(flags.desc),
    limit: flags.limit ?? TENANT_LIST_DEFAULT_LIMIT,
    after: flags.after,
    page: flags.page,
  }
}
