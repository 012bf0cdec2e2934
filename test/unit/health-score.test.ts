import {describe, expect, it} from 'vitest'

import {HEALTH_WEIGHTS, healthScore, type HealthInputs} from '../../src/lib/tenant/health-score.js'

const NOW = new Date('2026-06-30T12:00:00Z')
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString()
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString()

const thriving: HealthInputs = {
  status: 'active',
  users: 50,
  activeUsers: 50,
  locations: 3,
  lastActivityAt: daysAgo(1),
  rdsHealth: 'healthy',
  refreshedAt: minutesAgo(5),
  billingStatus: 'active',
}

describe('healthScore', () => {
  it('weighs its signals to 100 in all', () => {
    expect(Object.values(HEALTH_WEIGHTS).reduce((a, b) => a + b, 0)).toBe(100)
  })

  it.each<[string, Partial<HealthInputs>, number, Partial<Record<keyof typeof HEALTH_WEIGHTS, number>>]>([
    ['a thriving tenant', {}, 100, {}],
    ['suspended', {status: 'suspended'}, 85, {status: 0}],
    ['status unknown', {status: null}, 93, {status: 7.5}],
    ['status in other case', {status: ' Active '}, 100, {status: 15}],
    ['41 of 50 users active', {activeUsers: 41}, 96, {activeShare: 16.4}],
    ['no users at all', {users: 0, activeUsers: 0}, 70, {activeShare: 0, users: 0}],
    ['one user', {users: 1, activeUsers: 1}, 95, {users: 5}],
    ['counts not known yet', {users: null, activeUsers: null, locations: null}, 60, {activeShare: 0, users: 0, locations: 0}],
    ['no locations', {locations: 0}, 90, {locations: 0}],
    ['last active 8 days ago', {lastActivityAt: daysAgo(8)}, 95, {recency: 15}],
    ['last active 31 days ago', {lastActivityAt: daysAgo(31)}, 88, {recency: 8}],
    ['last active 91 days ago', {lastActivityAt: daysAgo(91)}, 80, {recency: 0}],
    ['never active', {lastActivityAt: null}, 80, {recency: 0}],
    ['RDS degraded', {rdsHealth: 'degraded'}, 95, {rds: 5}],
    ['RDS never probed', {rdsHealth: null}, 95, {rds: 5}],
    ['RDS down', {rdsHealth: 'down'}, 90, {rds: 0}],
    ['read 2 hours ago', {refreshedAt: minutesAgo(120)}, 98, {freshness: 3}],
    ['read 2 days ago', {refreshedAt: daysAgo(2)}, 95, {freshness: 0}],
    ['never read', {refreshedAt: null}, 95, {freshness: 0}],
    ['subscription trialing', {billingStatus: 'trialing'}, 100, {billing: 10}],
    ['subscription past due', {billingStatus: 'past_due'}, 93, {billing: 2.5}],
    ['subscription past due, other case', {billingStatus: ' PAST_DUE '}, 93, {billing: 2.5}],
    ['subscription paused', {billingStatus: 'paused'}, 90, {billing: 0}],
    ['subscription canceled', {billingStatus: 'canceled'}, 90, {billing: 0}],
    ['no subscription', {billingStatus: null}, 95, {billing: 5}],
    [
      'a customer in trouble',
      {
        status: 'cancelled',
        users: 4,
        activeUsers: 1,
        locations: 0,
        lastActivityAt: daysAgo(200),
        rdsHealth: 'down',
        refreshedAt: daysAgo(3),
        billingStatus: 'past_due',
      },
      18,
      {status: 0, activeShare: 5, users: 10, recency: 0, billing: 2.5},
    ],
  ])('%s', (_name, change, score, points) => {
    const result = healthScore({...thriving, ...change}, NOW)
    expect(result.score).toBe(score)
    const byName = Object.fromEntries(result.signals.map((s) => [s.name, s.points]))
    expect(byName).toMatchObject(points)
    expect(result.signals.map((s) => s.name)).toEqual(Object.keys(HEALTH_WEIGHTS))
    for (const s of result.signals) expect(s.points).toBeLessThanOrEqual(s.weight)
  })

  it('explains each signal in words that stay true until a bucket changes', () => {
    const {signals} = healthScore({...thriving, activeUsers: 41, lastActivityAt: daysAgo(20)}, NOW)
    expect(signals.map((s) => s.detail)).toEqual([
      'active',
      '41 of 50 users active',
      '50 users',
      '3 location(s)',
      'last user activity within 30 days',
      'RDS healthy',
      'read from its RDS within the hour',
      'subscription active',
    ])
  })
})
