import {describe, expect, it} from 'vitest'

import {sameRow} from '../../src/lib/sync/routing/cache.js'
import {toCacheRow, type CachedRow} from '../../src/lib/sync/routing/model.js'
import {parseSourceRow, REJECTED, sourceTime, type UpstreamRow} from '../../src/lib/sync/routing/source.js'
import {later} from '../../src/lib/sync/routing/watermark.js'

const ROW: UpstreamRow = {
  id: 7,
  email: 'Ann.Lee@Example.COM',
  tenant_id: 3,
  rds_instance_id: 1,
  user_id: 42,
  status: 'active',
  updated_at: new Date('2024-05-01T10:20:30Z'),
}

describe('sourceTime: a Laravel timestamp as ms since the epoch, UTC', () => {
  it('reads a Date, the naive text Laravel writes (as UTC), and text with a zone', () => {
    expect(sourceTime(new Date('2024-05-01T10:20:30.250Z'))).toBe(Date.parse('2024-05-01T10:20:30.250Z'))
    expect(sourceTime('2024-05-01 10:20:30')).toBe(Date.parse('2024-05-01T10:20:30Z'))
    expect(sourceTime('2024-05-01T10:20:30+02:00')).toBe(Date.parse('2024-05-01T08:20:30Z'))
  })

  it('gives null for no time and for what is not one', () => {
    expect(sourceTime(null)).toBeNull()
    expect(sourceTime(undefined)).toBeNull()
    expect(sourceTime(new Date(Number.NaN))).toBeNull()
    expect(sourceTime('0000-00-00 00:00:00')).toBeNull()
    expect(sourceTime('yesterday')).toBeNull()
  })
})

describe('parseSourceRow: a fleet routing row checked', () => {
  it('keeps a valid row, its email lower-cased and nothing else changed', () => {
    expect(parseSourceRow(ROW)).toEqual({
      id: 7,
      email: 'ann.lee@example.com',
      tenantId: 3,
      rdsInstanceId: 1,
      userId: 42,
      status: 'active',
      updatedAt: Date.parse('2024-05-01T10:20:30Z'),
    })
    const odd = parseSourceRow({...ROW, email: " O'Brien+X@Ex.io "})
    expect(odd).toMatchObject({email: " o'brien+x@ex.io "})
  })

  it('reads BIGINT ids given as digits, a numeric status as text, and a missing status or time as null', () => {
    expect(parseSourceRow({...ROW, id: '9007199254740', tenant_id: '3', rds_instance_id: '1', user_id: '42', status: 2, updated_at: null})).toEqual({
      id: 9_007_199_254_740,
      email: 'ann.lee@example.com',
      tenantId: 3,
      rdsInstanceId: 1,
      userId: 42,
      status: '2',
      updatedAt: null,
    })
    expect(parseSourceRow({...ROW, status: null})).toMatchObject({status: null})
    expect(parseSourceRow({...ROW, status: undefined})).toMatchObject({status: null})
  })

  it('leaves out a row whose id is not a positive integer, with no id to show', () => {
    for (const id of [0, -1, 1.5, '0', '00', '-3', '1e3', 'abc', '', null, undefined, Number.MAX_SAFE_INTEGER + 1]) {
      expect(parseSourceRow({...ROW, id}), `id ${String(id)}`).toEqual({reason: REJECTED.id, id: null})
    }
  })

  it('leaves out a row without an email, naming its id', () => {
    for (const email of ['', null, undefined, 42]) {
      expect(parseSourceRow({...ROW, email}), `email ${String(email)}`).toEqual({reason: REJECTED.email, id: 7})
    }
  })

  it('leaves out a row whose tenant, RDS or user is not a positive integer, naming its id', () => {
    for (const broken of [{tenant_id: 0}, {rds_instance_id: null}, {user_id: '-1'}, {tenant_id: 'x'}, {user_id: 2.5}]) {
      expect(parseSourceRow({...ROW, ...broken}), JSON.stringify(broken)).toEqual({reason: REJECTED.link, id: 7})
    }
  })
})

describe('sameRow: a cached row against the row a source row would write', () => {
  const parsed = parseSourceRow(ROW)
  if ('reason' in parsed) throw new Error('the sample row is valid')
  const next = toCacheRow(parsed, 11, new Date())
  /** The row as the driver reads it back: ids as strings, the time as naive text. */
  const cached: CachedRow = {
    id: '500',
    source_id: '7',
    email: 'ann.lee@example.com',
    tenant_master_id: '11',
    remote_tenant_id: '3',
    remote_user_id: '42',
    rds_instance_id: '1',
    status: 'active',
    source_updated_at: '2024-05-01 10:20:30',
  }

  it('finds a row the same whatever types the driver returns', () => {
    expect(sameRow(cached, next)).toBe(true)
    expect(sameRow({...cached, tenant_master_id: 11, source_updated_at: new Date('2024-05-01T10:20:30Z')}, next)).toBe(true)
  })

  it('finds it different when any compared column differs, case and NULLs included', () => {
    expect(sameRow({...cached, email: 'Ann.lee@example.com'}, next)).toBe(false)
    expect(sameRow({...cached, tenant_master_id: null}, next)).toBe(false)
    expect(sameRow(cached, {...next, tenant_master_id: null})).toBe(false)
    expect(sameRow({...cached, remote_tenant_id: '4'}, next)).toBe(false)
    expect(sameRow({...cached, remote_user_id: '43'}, next)).toBe(false)
    expect(sameRow({...cached, rds_instance_id: '2'}, next)).toBe(false)
    expect(sameRow({...cached, status: null}, next)).toBe(false)
    expect(sameRow({...cached, source_updated_at: '2024-05-01 10:20:31'}, next)).toBe(false)
    expect(sameRow({...cached, source_updated_at: null}, next)).toBe(false)
    expect(sameRow({...cached, source_updated_at: null}, {...next, source_updated_at: null})).toBe(true)
  })
})

describe('later: the watermark only moves forward in (updated_at, id) order', () => {
  it('takes the newer time, and on the same time the higher id', () => {
    expect(later(null, {updatedAt: 5, id: 1})).toEqual({updatedAt: 5, id: 1})
    expect(later({updatedAt: 5, id: 9}, {updatedAt: 6, id: 1})).toEqual({updatedAt: 6, id: 1})
    expect(later({updatedAt: 6, id: 1}, {updatedAt: 5, id: 9})).toEqual({updatedAt: 6, id: 1})
    expect(later({updatedAt: 5, id: 2}, {updatedAt: 5, id: 3})).toEqual({updatedAt: 5, id: 3})
    expect(later({updatedAt: 5, id: 3}, {updatedAt: 5, id: 2})).toEqual({updatedAt: 5, id: 3})
  })
})
