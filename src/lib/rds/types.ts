import type {RdsEngine} from '../db/connection-spec.js'
import type {HealthStatus, RdsState} from '../db/tables.js'

export {RDS_ENGINES, type RdsConnectionSpec, type RdsEngine} from '../db/connection-spec.js'
export {HEALTH_STATUSES, RDS_STATES, type HealthStatus, type RdsInstanceRow, type RdsState} from '../db/tables.js'

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
