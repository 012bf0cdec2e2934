import type {HealthStatus, RdsState} from '../db/tables.js'

/**
 * Where a new tenant goes: the rule, as a pure function of what the registry
 * says of each RDS, so that `placement:explain` and the place step of
 * `tenant:create` rank servers the same way.
 *
 * A candidate is active, `online` (a `draining` server keeps its tenants and
 * takes no new ones; a `locked` one takes no change at all), not `down` at its
 * last health check, and below its capacity. Candidates rank by:
 *   1. load: (tenants + open reservations) / capacity, lowest first;
 *   2. health: healthy, then degraded, then unknown (never probed);
 *   3. latency of the last probe, lowest first (unknown last);
 *   4. id, so that the order is total and the same on every run.
 */

/** What placement reads of an RDS. */
export interface PlacementInput {
  id: number
  name: string
  isActive: boolean
  isMaster: boolean
  state: RdsState
  health: HealthStatus
  latencyMs: number | null
  healthCheckedAt: string | null
  /** Its tenants in the registry (tenant_master rows not missing upstream). */
  tenants: number
  /** Open reservations: tenants being created there by jobs not yet registered. */
  reserved: number
  /** Locations of its tenants (tenant_master's cached counts). */
  locations: number
  capacity: number
}

/** One RDS as placement sees it: ranked (1 = where the next tenant goes) or excluded, and why. */
export interface PlacementRow {
  rds: {id: number; name: string}
  isMaster: boolean
  state: RdsState
  health: HealthStatus
  latencyMs: number | null
  tenants: number
  reserved: number
  capacity: number
  /** (tenants + reserved) / capacity, rounded to 4 decimals. */
  load: number
  locations: number
  /** 1, 2, … for candidates; null when excluded. */
  rank: number | null
  /** Why it takes no new tenant (null for a candidate). */
  excluded: string | null
  /** Why it ranks where it does (candidates), in words. */
  reason: string | null
}

const HEALTH_ORDER: Record<HealthStatus, number> = {healthy: 0, degraded: 1, unknown: 2, down: 3}

/** Why an RDS takes no new tenant, or null when it is a candidate. */
export function exclusionOf(rds: PlacementInput): string | null {
  if (!rds.isActive) return 'inactive'
  if (rds.state === 'draining') return 'draining: keeps its tenants, takes no new ones'
  if (rds.state === 'locked') return 'locked: takes no change'
  if (rds.health === 'down') return `down at its last health check${rds.healthCheckedAt ? ` (${rds.healthCheckedAt})` : ''}`
  const used = rds.tenants + rds.reserved
  if (used >= rds.capacity) return `full: ${used} of ${rds.capacity} (${rds.reserved} reserved)`
  return null
}

/** Negative when `a` is the better place for a new tenant than `b`. */
export function compareCandidates(a: PlacementInput, b: PlacementInput): number {
  // (ua / ca) vs (ub / cb), compared exactly in integers.
  const load = (a.tenants + a.reserved) * b.capacity - (b.tenants + b.reserved) * a.capacity
  if (load !== 0) return load
  const health = HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health]
  if (health !== 0) return health
  const latency = (a.latencyMs ?? Number.POSITIVE_INFINITY) - (b.latencyMs ?? Number.POSITIVE_INFINITY)
  if (latency !== 0 && !Number.isNaN(latency)) return latency
  return a.id - b.id
}

const loadOf = (rds: PlacementInput): number => Math.round(((rds.tenants + rds.reserved) / rds.capacity) * 10_000) / 10_000

/** Every RDS, candidates first in rank order, then the excluded ones by id. */
export function rankRds(inputs: readonly PlacementInput[]): PlacementRow[] {
  const candidates = inputs.filter((rds) => exclusionOf(rds) === null).sort(compareCandidates)
  const excluded = inputs.filter((rds) => exclusionOf(rds) !== null).sort((a, b) => a.id - b.id)
  const reasonFor = (rds: PlacementInput, index: number): string => {
    const load = `${rds.tenants + rds.reserved} of ${rds.capacity}`
    if (index === 0) return candidates.length === 1 ? `the only candidate (${load})` : `lowest load (${load})`
    const before = candidates[index - 1]
    const sameLoad = (before.tenants + before.reserved) * rds.capacity === (rds.tenants + rds.reserved) * before.capacity
    if (!sameLoad) return `load ${load}`
    if (HEALTH_ORDER[before.health] !== HEALTH_ORDER[rds.health]) return `same load, ${rds.health}`
    if ((before.latencyMs ?? -1) !== (rds.latencyMs ?? -1)) return `same load and health, ${rds.latencyMs === null ? 'latency unknown' : `${rds.latencyMs} ms`}`
    return 'same load, health and latency: by id'
  }
  const row = (rds: PlacementInput, rank: number | null, excludedWhy: string | null, reason: string | null): PlacementRow => ({
    rds: {id: rds.id, name: rds.name},
    isMaster: rds.isMaster,
    state: rds.state,
    health: rds.health,
    latencyMs: rds.latencyMs,
    tenants: rds.tenants,
    reserved: rds.reserved,
    capacity: rds.capacity,
    load: loadOf(rds),
    locations: rds.locations,
    rank,
    excluded: excludedWhy,
    reason,
  })
  return [...candidates.map((rds, i) => row(rds, i + 1, null, reasonFor(rds, i))), ...excluded.map((rds) => row(rds, null, exclusionOf(rds), null))]
}
