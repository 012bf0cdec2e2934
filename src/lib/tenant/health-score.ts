import type {HealthStatus} from '../db/tables.js'

/**
 * The customer health score: 0 (a customer in trouble) to 100 (a thriving
 * one), a simple heuristic from what raiops knows of a tenant. Each signal has
 * a weight (the most points it gives) and gives points by a plain rule; the
 * score is their sum. The weights are named in the README; change them here.
 */
export const HEALTH_WEIGHTS = {
  /** The tenant's own status on its RDS: active gives all, unknown half, suspended, cancelled or anything else none. */
  status: 15,
  /** The share of its (non-ghost) users that are active. */
  activeShare: 20,
  /** It has users at all: two or more give all, one half. */
  users: 10,
  /** It has at least one location. */
  locations: 10,
  /** How recently one of its users was active: within 7 days all, 30 days 3/4, 90 days 2/5, older or never none. */
  recency: 20,
  /** Its RDS's last probe: healthy all, degraded or not yet probed half, down none. */
  rds: 10,
  /** How fresh raiops' copy is: refreshed within an hour all, within a day 3/5, older or never none. */
  freshness: 5,
  /**
   * Its subscription (tenant_billing): active or trialing all, past due a quarter,
   * paused or canceled none; no subscription (billing not set up for it) half,
   * as the other signals score what is not known.
   */
  billing: 10,
} as const

export type HealthSignalName = keyof typeof HEALTH_WEIGHTS

/** What the score is computed from; every field may be unknown (null). */
export interface HealthInputs {
  status: string | null
  /** Non-ghost users. */
  users: number | null
  activeUsers: number | null
  locations: number | null
  /** ISO time of the latest user activity. */
  lastActivityAt: string | null
  rdsHealth: HealthStatus | null
  /** ISO time raiops last read the tenant from its RDS. */
  refreshedAt: string | null
  /** Its subscription's status (tenant_billing, past due when overdue); null: no subscription. */
  billingStatus: string | null
}

export interface HealthSignal {
  name: HealthSignalName
  /** The most points the signal gives. */
  weight: number
  points: number
  /** What the points were given for, as a person reads it ("41 of 50 users active"). */
  detail: string
}

export interface HealthScore {
  score: number
  signals: HealthSignal[]
}

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

function signal(name: HealthSignalName, fraction: number, detail: string): HealthSignal {
  const weight = HEALTH_WEIGHTS[name]
  return {name, weight, points: Math.round(weight * Math.min(1, Math.max(0, fraction)) * 10) / 10, detail}
}

/**
 * The score of one tenant at `now`, with each signal's contribution. Pure: the
 * same inputs give the same score, and the details name buckets ("within 30
 * days"), not ages, so a stored score's signals stay true until a bucket changes.
 */
export function healthScore(inputs: HealthInputs, now: Date): HealthScore {
  const signals: HealthSignal[] = []
  const status = inputs.status?.trim().toLowerCase() ?? ''
  signals.push(
    status === 'active' ? signal('status', 1, 'active') : status === '' ? signal('status', 0.5, 'status unknown') : signal('status', 0, inputs.status ?? ''),
  )

  const users = inputs.users ?? null
  const active = inputs.activeUsers ?? null
  if (users === null || active === null) signals.push(signal('activeShare', 0, 'users not counted yet'))
  else if (users === 0) signals.push(signal('activeShare', 0, 'no users'))
  else signals.push(signal('activeShare', active / users, `${active} of ${users} users active`))

  if (users === null) signals.push(signal('users', 0, 'users not counted yet'))
  else signals.push(signal('users', users >= 2 ? 1 : users === 1 ? 0.5 : 0, users === 1 ? '1 user' : `${users} users`))

  const locations = inputs.locations ?? null
  signals.push(signal('locations', locations !== null && locations > 0 ? 1 : 0, locations === null ? 'not counted yet' : `${locations} location(s)`))

  const lastActivity = inputs.lastActivityAt === null ? Number.NaN : Date.parse(inputs.lastActivityAt)
  if (Number.isNaN(lastActivity)) signals.push(signal('recency', 0, 'no user activity known'))
  else {
    const age = now.getTime() - lastActivity
    const [fraction, within] =
      age <= 7 * DAY_MS
        ? [1, 'within 7 days']
        : age <= 30 * DAY_MS
          ? [0.75, 'within 30 days']
          : age <= 90 * DAY_MS
            ? [0.4, 'within 90 days']
            : [0, 'over 90 days ago']
    signals.push(signal('recency', fraction, `last user activity ${within}`))
  }

  const rds = inputs.rdsHealth ?? 'unknown'
  signals.push(signal('rds', rds === 'healthy' ? 1 : rds === 'down' ? 0 : 0.5, rds === 'unknown' ? 'RDS not probed yet' : `RDS ${rds}`))

  const refreshed = inputs.refreshedAt === null ? Number.NaN : Date.parse(inputs.refreshedAt)
  if (Number.isNaN(refreshed)) signals.push(signal('freshness', 0, 'never read from its RDS'))
  else {
    const age = now.getTime() - refreshed
    const [fraction, within] = age <= HOUR_MS ? [1, 'within the hour'] : age <= DAY_MS ? [0.6, 'within a day'] : [0, 'over a day ago']
    signals.push(signal('freshness', fraction, `read from its RDS ${within}`))
  }

  const billing = inputs.billingStatus?.trim().toLowerCase() ?? ''
  signals.push(
    billing === 'active' || billing === 'trialing'
      ? signal('billing', 1, `subscription ${billing}`)
      : billing === 'past_due'
        ? signal('billing', 0.25, 'subscription past due')
        : billing === 'paused' || billing === 'canceled'
          ? signal('billing', 0, `subscription ${billing}`)
          : signal('billing', 0.5, 'no subscription'),
  )

  const score = Math.round(signals.reduce((sum, s) => sum + s.points, 0))
  return {score: Math.min(100, Math.max(0, score)), signals}
}
