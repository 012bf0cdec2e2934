/**
 * The control database's tables: their names, and one row type per table as the
 * engines return it (migrations/ is the schema these follow). Registered with knex
 * below, so `db('operators').first('email')` is typed without a cast.
 *
 * The three engines disagree on three kinds of column; the types say so rather
 * than pretend, and the readers in ./values.ts (toIso, toBool, Number) even them out.
 */
import type {RdsEngine} from './connection-spec.js'

export const RDS_TABLE = 'rds_instances'
export const ROUTING_CACHE_TABLE = 'user_email_routing_cache'
export const TENANT_MASTER_TABLE = 'tenant_master'
export const SYNC_RUNS_TABLE = 'sync_runs'
export const HEALTH_CHECKS_TABLE = 'health_checks'
export const IMPERSONATIONS_TABLE = 'impersonations'
export const LOCKS_TABLE = 'locks'
export const RESERVATIONS_TABLE = 'placement_reservations'
export const JOBS_TABLE = 'jobs'
export const JOB_STEPS_TABLE = 'job_steps'
export const ALERT_RULES_TABLE = 'alert_rules'
export const ALERT_RUNS_TABLE = 'alert_runs'
export const ALERT_INSTANCES_TABLE = 'alert_instances'
export const ALERT_TRANSITIONS_TABLE = 'alert_transitions'
export const ALERT_SUBSCRIPTIONS_TABLE = 'alert_subscriptions'
export const ALERT_NOTIFICATIONS_TABLE = 'alert_notifications'
export const ALERT_SILENCES_TABLE = 'alert_silences'

/** The values some columns may hold, declared with the tables so that every layer reads them from here. */
export const RDS_STATES = ['online', 'draining', 'locked'] as const
export type RdsState = (typeof RDS_STATES)[number]
/** What a probe makes of a server; `unknown` until one has run. */
export const HEALTH_STATUSES = ['healthy', 'degraded', 'down', 'unknown'] as const
export type HealthStatus = (typeof HEALTH_STATUSES)[number]
export type ActorType = 'operator' | 'token' | 'system' | 'rai'
export type SyncRunStatus = 'running' | 'ok' | 'partial' | 'failed' | 'skipped'

/** Written as a Date. MySQL and PostgreSQL return a Date; SQLite the epoch milliseconds knex stored. */
export type DbTimestamp = Date | number
/** PostgreSQL returns a boolean; MySQL (TINYINT(1)) and SQLite return 0 or 1. */
export type DbBoolean = boolean | number
/** PostgreSQL returns a BIGINT as a string (it may not fit a number); MySQL and SQLite return a number. */
export type DbBigInt = number | string

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
  is_master: DbBoolean
  is_active: DbBoolean
  state: RdsState
  health_status: HealthStatus
  health_checked_at: DbTimestamp | null
  health_latency_ms: number | null
  health_error: string | null
  impersonation_enabled: DbBoolean
  impersonation_audience: string | null
  impersonation_ttl_seconds: number | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

export interface HealthCheckRow {
  id: number
  rds_instance_id: number
  status: HealthStatus
  latency_ms: number | null
  details: string | null
  checked_at: DbTimestamp
}

export interface TenantMasterRow {
  id: number
  rds_instance_id: number
  remote_tenant_id: DbBigInt
  name: string
  primary_contact_name: string | null
  primary_contact_email: string | null
  status: string | null
  cached_user_count: number
  cached_location_count: number
  cache_refreshed_at: DbTimestamp | null
  remote_missing_at: DbTimestamp | null
  /** Non-ghost users whose status is active; null until a refresh counted them. */
  active_user_count: number | null
  ghost_user_count: number | null
  /** The latest updated_at of the tenant's non-ghost users. */
  last_user_activity_at: DbTimestamp | null
  /** The customer health score, 0–100 (lib/tenant/health-score.ts), as of the last refresh. */
  health_score: number | null
  /** JSON: the score's signals, each with its points. */
  health_signals: string | null
  /** Name, contact name and email, lower-cased and without accents: what --search matches. */
  search_text: string | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

export interface RoutingCacheRow {
  id: number
  source_id: DbBigInt
  email: string
  tenant_master_id: number | null
  remote_tenant_id: DbBigInt | null
  remote_user_id: DbBigInt | null
  rds_instance_id: number | null
  status: string | null
  source_updated_at: DbTimestamp | null
  synced_at: DbTimestamp
}

export interface SyncRunRow {
  id: number
  kind: string
  rds_instance_id: number | null
  started_at: DbTimestamp
  finished_at: DbTimestamp | null
  status: SyncRunStatus
  stats: string | null
  error: string | null
  host: string | null
}

export interface SyncStateRow {
  name: string
  value: string | null
  updated_at: DbTimestamp
}

export interface LockRow {
  name: string
  holder: string
  acquired_at: DbTimestamp
  expires_at: DbTimestamp
}

export interface RoleRow {
  id: number
  name: string
  description: string | null
  is_builtin: DbBoolean
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

export interface PermissionRow {
  id: number
  name: string
  description: string | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

export interface RolePermissionRow {
  id: number
  role: string
  permission: string
  created_at: DbTimestamp
}

export interface OperatorRow {
  id: number
  name: string
  email: string
  password_hash: string
  role: string
  is_active: DbBoolean
  last_login_at: DbTimestamp | null
  failed_logins: number
  locked_until: DbTimestamp | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

export interface ApiTokenRow {
  id: number
  name: string
  token_hash: string
  operator_id: number | null
  role: string
  expires_at: DbTimestamp | null
  last_used_at: DbTimestamp | null
  revoked_at: DbTimestamp | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

/**
 * One version of a subscription plan (lib/billing/plans.ts): a code has a row
 * per version, unique together; a price change adds a version.
 */
export interface SubscriptionPlanRow {
  id: number
  code: string
  /** 1, 2, …: the next one made by a change of price, interval, unit pricing or currency. */
  version: number
  name: string
  /** The base price per term, in minor units of `currency` (the name is older than currencies without cents). */
  price_cents: DbBigInt
  /** ISO 4217, upper case. */
  currency: string
  /** The term's label: month, quarter, year, 2-year, 3-year. */
  interval: string
  /** The term's length in months: 1, 3, 12, 24, 36. */
  interval_months: number
  /** What is priced per unit: location, user, or nothing. */
  unit: string | null
  /** The price per unit per term beyond the included units, in minor units. */
  unit_price_minor: DbBigInt | null
  included_units: number
  trial_days: number
  /** JSON: an array of strings; null is none. */
  features: string | null
  /** When this version's prices apply from; null (rows written before versions existed): from created_at. */
  effective_from: DbTimestamp | null
  /** Set on every version of an archived plan. */
  archived_at: DbTimestamp | null
  /** The opposite of archived_at, kept for the readers older than it. */
  is_active: DbBoolean
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

/** A billing event's kind (lib/billing/ledger.ts). */
export const BILLING_EVENT_TYPES = ['set', 'cancel', 'pause', 'resume'] as const
export type BillingEventType = (typeof BILLING_EVENT_TYPES)[number]
/** A subscription's status, as tenant_billing keeps it and the MRR engine reads it. */
export const SUBSCRIPTION_STATUSES = ['trialing', 'active', 'past_due', 'paused', 'canceled'] as const
export const PAYMENT_STATUSES = ['succeeded', 'failed', 'refunded'] as const
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number]
/** Where a subscription's quantity comes from: given, or the tenant's locations or users when the event was recorded. */
export const QUANTITY_MODES = ['fixed', 'locations', 'users'] as const
export type QuantityMode = (typeof QUANTITY_MODES)[number]

/** A tenant's subscription now: derived from its billing events by every change (never edited otherwise). */
export interface TenantBillingRow {
  id: number
  tenant_master_id: number
  /** The plan version's row (subscription_plans.id). */
  plan_id: number | null
  /** trialing, active, past_due, paused, canceled; `none` only inside the transaction that writes the first event. */
  status: string
  /** The monthly value now, in minor units of `currency` (the name is older than currencies without cents). */
  mrr_cents: DbBigInt
  currency: string
  billing_email: string | null
  started_at: DbTimestamp | null
  cancelled_at: DbTimestamp | null
  next_billing_at: DbTimestamp | null
  quantity: number
  quantity_mode: QuantityMode
  /** A discount per term: a percentage in basis points (1000 = 10 %) or an amount in minor units; at most one is set. */
  discount_percent_bp: number | null
  discount_amount_minor: DbBigInt | null
  /** When a limited discount ends; null with a discount: permanent. */
  discount_until: DbTimestamp | null
  trial_until: DbTimestamp | null
  /** The end of the last billing period paid for (the paid periods from the first are contiguous). */
  paid_through: DbTimestamp | null
  /** JSON: what billing-status.ts needs to tell the status at a later instant (`StatusSchedule`); null on rows written before it existed. */
  status_schedule: string | null
  last_event_id: number | null
  /** How many changes made this state: 1 after the first event. */
  version: number
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

/**
 * One change of a tenant's subscription, append-only. The state at any instant
 * is the fold of the tenant's events in (effective_at, id) order.
 */
export interface BillingEventRow {
  id: number
  tenant_master_id: number
  type: BillingEventType
  /** The plan version the event puts the tenant on (`set` only). */
  plan_id: number | null
  /** The monthly value after the event, as computed when it was recorded (informational: a later backdated event may change it). */
  mrr_cents: DbBigInt
  mrr_delta_cents: DbBigInt
  effective_at: DbTimestamp
  /** Free text, unused by the ledger. */
  details: string | null
  currency: string | null
  /** JSON: what the event sets (lib/billing/ledger.ts BillingChanges). */
  changes: string | null
  actor: string | null
  reason: string | null
  recorded_at: DbTimestamp | null
  created_at: DbTimestamp
}

/** A payment (or a failed attempt, or a refund) for one billing period. */
export interface PaymentRow {
  id: number
  tenant_master_id: number
  /** Minor units of `currency`, never negative; a refund's amount is what was returned. */
  amount_cents: DbBigInt
  currency: string
  paid_at: DbTimestamp
  method: string | null
  reference: string | null
  status: PaymentStatus
  /** The billing period paid for. */
  period_start: DbTimestamp | null
  period_end: DbTimestamp | null
  /** A refund: the payment it refunds. */
  refund_of: number | null
  /** Who recorded it (the audit actor). */
  recorded_by: string | null
  reason: string | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

export interface AuditLogRow {
  id: number
  seq: DbBigInt
  occurred_at: DbTimestamp
  actor_type: ActorType
  actor: string
  action: string
  target_type: string | null
  target_id: string | null
  rds_instance_id: number | null
  tenant_master_id: number | null
  old_values: string | null
  new_values: string | null
  /** Nullable in the schema, but part of every entry's hash: raiops always writes it. */
  source: string
  prev_hash: string
  hash: string
}

/** The head of the audit hash chain: one row, id 1. */
export interface AuditHeadRow {
  id: number
  seq: DbBigInt
  hash: string
}

export interface ImpersonationRow {
  id: number
  jti: string
  operator: string
  tenant_master_id: number
  issued_at: DbTimestamp
  expires_at: DbTimestamp
  used_at: DbTimestamp | null
  reason: string | null
  ticket: string | null
}

export interface KeyRow {
  kid: string
  fingerprint: string
  created_at: DbTimestamp
  retired_at: DbTimestamp | null
}

export interface WebhookEventRow {
  event_id: string
  audit_log_id: number
  received_at: DbTimestamp
}

export interface AuthSessionRow {
  jti: string
  operator_id: number
  host: string | null
  issued_at: DbTimestamp
  expires_at: DbTimestamp
  revoked_at: DbTimestamp | null
}

/** A resumable job (lib/jobs): its kind, input (JSON), state, lease and what it concerns. */
export interface JobRow {
  id: number
  kind: string
  input: string
  state: 'queued' | 'running' | 'failed' | 'canceling' | 'canceled' | 'done'
  /** How many times a worker claimed it. */
  attempts: number
  /** The audit actor who created it. */
  created_by: string
  tenant_name: string | null
  tenant_master_id: number | null
  rds_instance_id: number | null
  error: string | null
  error_kind: 'transient' | 'permanent' | null
  /** Not claimed before then (a queued job waiting out a backoff). */
  run_after: DbTimestamp
  /** The worker holding it: `host:pid:id`. */
  locked_by: string | null
  lease_expires_at: DbTimestamp | null
  heartbeat_at: DbTimestamp | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
  started_at: DbTimestamp | null
  finished_at: DbTimestamp | null
}

/** One step of a job, at its position in its kind's list. */
export interface JobStepRow {
  id: number
  job_id: number
  position: number
  name: string
  state: 'pending' | 'running' | 'done' | 'failed' | 'compensating' | 'compensated'
  attempts: number
  /** Transient failures in a row since it last succeeded or the job was retried. */
  retries: number
  started_at: DbTimestamp | null
  finished_at: DbTimestamp | null
  /** JSON. */
  output: string | null
  /** JSON: what the step stored with `checkpoint()` while it ran. */
  checkpoint: string | null
  error: string | null
  /** When its `job.step.done` audit entry joined the chain (NULL: done, not yet audited; or not done). */
  audited_at: DbTimestamp | null
  updated_at: DbTimestamp
}

/** A slot on an RDS taken by a tenant-creation job (lib/placement/reservations.ts). */
export interface PlacementReservationRow {
  id: number
  job_id: number
  rds_instance_id: number
  tenant_name: string
  /** The name lower-cased while the reservation is open; null once the tenant is registered or the job canceled. */
  name_key: string | null
  /** Set when the job registered the tenant: from then on the tenant_master row counts, not the reservation. */
  tenant_master_id: number | null
  created_at: DbTimestamp
  released_at: DbTimestamp | null
}

/** An alert rule (lib/alerts): a kind with its parameters, evaluated by `alerts:run`. */
export interface AlertRuleRow {
  id: number
  name: string
  kind: string
  /** JSON: the kind's parameters. */
  params: string
  for_ms: DbBigInt
  keep_firing_for_ms: DbBigInt
  severity: 'critical' | 'warning' | 'info'
  /** JSON object. */
  labels: string
  no_data: 'nodata' | 'ok' | 'keep-last'
  on_error: 'error' | 'ok' | 'keep-last'
  description: string | null
  enabled: DbBoolean
  builtin: DbBoolean
  created_by: string
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

/** One run of the alert engine; the latest finished one is its heartbeat. */
export interface AlertRunRow {
  id: number
  started_at: DbTimestamp
  finished_at: DbTimestamp | null
  /** `evaluated`: its evaluation committed, it has not finished sending. */
  status: 'running' | 'evaluated' | 'ok' | 'partial' | 'failed'
  previous_at: DbTimestamp | null
  gap: DbBoolean
  holder: string
  /** JSON. */
  stats: string | null
  error: string | null
}

/** One alert: a rule and a label set, and where it is in inactive → pending → firing → resolved. */
export interface AlertInstanceRow {
  id: number
  rule_id: number
  fingerprint: string
  /** JSON object. */
  labels: string
  state: 'pending' | 'firing' | 'resolved' | 'inactive' | 'unknown'
  summary: string | null
  value: number | null
  active_at: DbTimestamp | null
  fired_at: DbTimestamp | null
  last_true_at: DbTimestamp | null
  last_eval_at: DbTimestamp
  last_notified_at: DbTimestamp | null
  resolved_at: DbTimestamp | null
  acked_by: string | null
  acked_at: DbTimestamp | null
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

/** A change of an alert instance's state. */
export interface AlertTransitionRow {
  id: number
  instance_id: number
  rule_id: number
  run_id: number | null
  from_state: AlertInstanceRow['state']
  to_state: AlertInstanceRow['state']
  at: DbTimestamp
  summary: string | null
  /** JSON object. */
  labels: string
  /** `silence:<id>`, `inhibited:<instance id>`, or null when it was notified (or had nothing to notify). */
  muted_by: string | null
}

/** An operator's subscription to alerts on one channel. */
export interface AlertSubscriptionRow {
  id: number
  operator_id: number
  channel: 'email' | 'webhook'
  target: string | null
  /** JSON array or null (any). */
  severities: string | null
  /** JSON array of rule names or null (any). */
  rules: string | null
  /** JSON array of matchers or null. */
  matchers: string | null
  send_resolved: DbBoolean
  enabled: DbBoolean
  created_by: string
  created_at: DbTimestamp
  updated_at: DbTimestamp
}

/** The outbox: one message, written before it is sent. */
export interface AlertNotificationRow {
  id: number
  key: string
  subscription_id: number | null
  channel: 'email' | 'webhook'
  target: string
  rule_id: number
  run_id: number | null
  kind: 'firing' | 'resolved' | 'repeat'
  /** JSON: a NotificationPayload. */
  payload: string
  state: 'pending' | 'sent' | 'dropped'
  attempts: number
  last_error: string | null
  created_at: DbTimestamp
  next_attempt_at: DbTimestamp
  sent_at: DbTimestamp | null
}

/** A silence: alerts whose labels match every matcher are not notified until ends_at. */
export interface AlertSilenceRow {
  id: number
  /** JSON array of matcher strings. */
  matchers: string
  reason: string
  created_by: string
  starts_at: DbTimestamp
  ends_at: DbTimestamp
  expired_at: DbTimestamp | null
  created_at: DbTimestamp
}

/** knex's own record of the applied migrations. */
export interface MigrationRow {
  id: number
  name: string
  batch: number
  migration_time: DbTimestamp
}

declare module 'knex/types/tables.js' {
  interface Tables {
    rds_instances: RdsInstanceRow
    health_checks: HealthCheckRow
    tenant_master: TenantMasterRow
    user_email_routing_cache: RoutingCacheRow
    sync_runs: SyncRunRow
    sync_state: SyncStateRow
    locks: LockRow
    raiops_roles: RoleRow
    raiops_permissions: PermissionRow
    raiops_role_permissions: RolePermissionRow
    operators: OperatorRow
    api_tokens: ApiTokenRow
    subscription_plans: SubscriptionPlanRow
    tenant_billing: TenantBillingRow
    billing_events: BillingEventRow
    payments: PaymentRow
    audit_logs: AuditLogRow
    audit_head: AuditHeadRow
    impersonations: ImpersonationRow
    raiops_keys: KeyRow
    webhook_events: WebhookEventRow
    auth_sessions: AuthSessionRow
    placement_reservations: PlacementReservationRow
    knex_migrations: MigrationRow
    jobs: JobRow
    job_steps: JobStepRow
    alert_rules: AlertRuleRow
    alert_runs: AlertRunRow
    alert_instances: AlertInstanceRow
    alert_transitions: AlertTransitionRow
    alert_subscriptions: AlertSubscriptionRow
    alert_notifications: AlertNotificationRow
    alert_silences: AlertSilenceRow
  }
}
