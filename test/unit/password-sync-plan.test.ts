import {Chalk} from 'chalk'
import {describe, expect, it} from 'vitest'

import {renderPasswordPlan} from '../../src/cli/reporters/password-sync.js'
import type {PasswordRow, PasswordSync, PasswordTenant} from '../../src/lib/password/sync.js'

const c = new Chalk({level: 0})
const tenant = (rdsId: number, rdsName: string, remoteTenantId: number): PasswordTenant => ({rdsId, rdsName, remoteTenantId, id: null, name: null})
const row = (server: {id: number; name: string}, table: PasswordRow['table'], id: number, t: PasswordTenant): PasswordRow => ({
  server,
  table,
  id,
  tenant: t,
  hash: 'differs',
  outcome: 'planned',
})

describe('password:sync plan', () => {
  it('says a routing entry whose tenant’s RDS could not be read is left as it is, not written', () => {
    const master = {id: 1, name: 'main'}
    const eu = tenant(2, 'eu', 7)
    const us = tenant(3, 'us', 9)
    const plan: PasswordSync = {
      action: 'user.password-sync',
      email: 'ana@example.com',
      mode: 'reset',
      reason: 'locked out, ticket SUP-1234',
      dryRun: true,
      cost: 10,
      source: null,
      master,
      rows: [row(master, 'user_email_routing', 11, eu), row(master, 'user_email_routing', 12, us), row({id: 2, name: 'eu'}, 'users', 5, eu)],
      servers: [{server: {id: 3, name: 'us'}, table: 'users', status: 'failed', rows: 0, error: 'connection refused'}],
      pending: [],
      control: {status: 'skipped', error: null, auditIds: []},
      notes: [],
      auditIds: [],
      complete: false,
    }
    const lines = renderPasswordPlan(c, plan).split('\n')
    expect(lines.find((l) => l.includes('id 11'))).toMatch(/hash differs, written$/)
    expect(lines.find((l) => l.includes('id 12'))).toMatch(/hash differs, left as it is: its tenant’s RDS failed$/)
    expect(lines.find((l) => l.includes('users id 5'))).toMatch(/hash differs, written$/)
  })
})
