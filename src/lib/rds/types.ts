import type {RdsEngine} from '../db/connection-spec.js'
import type {HealthStatus} from '../health/rules.js'

export {RDS_ENGINES, type RdsConnectionSpec, type RdsEngine} from '../db/connection-spec.js'
export {HEALTH_STATUSES, type HealthStatus} from '../health/rules.js'

export const RDS_STATES = ['online', 'draining', 'locked'] as const
export type RdsState = (typeof RDS_STATES)[number]

/** A row of `rds_instances` as the engines return it (booleans and dates vary by engine). */
export interface RdsInstanceRow {
  id: number
  name: string
  engine: RdsEngine
  host: string | null
  port: number | null
  username: string | null
  password_enc: string | null
  rai_database: string
  providers_database: string | null
  app_url: string | null
  is_master: boolean | number
  is_active: boolean | number
  state: RdsState
  health_status: HealthStatus
  health_checked_at: unknown
  health_latency_ms: number | null
  health_error: string | null
  impersonation_enabled: boolean | number
  impersonation_audience: string | null
  impersonation_ttl_seconds: number | null
  created_at: unknown
  updated_at: unknown
}

/** An RDS as raiops shows it: never the password, only whether one is set. */
export interface RdsView {
  id: number
  name: string
  engine: RdsEngine
  host: string | null
  port: number | null
  username: string | null
  passwordSet: boolean
  raiDatabase: string
  providersDatabase: string | null
  appUrl: string | null
  /** Whether tenant:impersonate may issue links for its tenants, their audience (null: the app URL) and default lifetime (null: 5 minutes). */
  impersonation: {enabled: boolean; audience: string | null; ttlSeconds: number | null}
  isMaster: boolean
  isActive: boolean
  state: RdsState
  health: {status: HealthStatus; checkedAt: string | null; latencyMs: number | null; error: string | null}
  createdAt: string
  updatedAt: string
}
