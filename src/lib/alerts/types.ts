/**
 * The alert engine's vocabulary, shared by its parts: rules (./rules.ts) are
 * evaluated by kinds (./kinds/) into instances whose state machine
 * (./state.ts) the engine (./engine.ts) drives at each `alerts:run`; the
 * transitions worth telling are grouped into outbox rows (./outbox.ts) that
 * the channels (./channels/) deliver.
 */

export const SEVERITIES = ['critical', 'warning', 'info'] as const
export type Severity = (typeof SEVERITIES)[number]

/**
 * Where an instance is. `inactive`: its condition cleared while pending (never
 * fired). `resolved`: it fired and its condition has cleared for longer than
 * keep_firing_for. `unknown`: the engine did not evaluate for more than twice
 * its interval, so a firing or pending instance not seen active now is not
 * known to have cleared: the next run on time decides.
 */
export const ALERT_STATES = ['pending', 'firing', 'resolved', 'inactive', 'unknown'] as const
export type AlertState = (typeof ALERT_STATES)[number]

/** What NoData (a rule's query had nothing to look at) makes of a rule: a `nodata` instance that fires like any other, nothing (`ok`), or the states left as they are (`keep-last`). */
export const NO_DATA_POLICIES = ['nodata', 'ok', 'keep-last'] as const
export type NoDataPolicy = (typeof NO_DATA_POLICIES)[number]

/** What an evaluation error makes of a rule: an `error` instance that fires like any other, nothing (`ok`), or the states left as they are (`keep-last`). Never a crashed run. */
export const ERROR_POLICIES = ['error', 'ok', 'keep-last'] as const
export type ErrorPolicy = (typeof ERROR_POLICIES)[number]

/** Label name → value. Names: [a-zA-Z_][a-zA-Z0-9_]*; `alertname` and `severity` are set by the engine. */
export type Labels = Readonly<Record<string, string>>

/** The interval cron runs `alerts:run` at, and the one a gap is measured against. */
export const DEFAULT_INTERVAL_MS = 5 * 60_000
/** How often a notification repeats for an alert that stays firing (Alertmanager's repeat_interval). */
export const DEFAULT_REPEAT_INTERVAL_MS = 4 * 3_600_000

/** An alert rule as services return it. */
export interface AlertRule {
  id: number
  name: string
  kind: string
  /** The kind's parameters, validated by its schema. */
  params: Record<string, unknown>
  forMs: number
  keepFiringForMs: number
  severity: Severity
  labels: Labels
  noData: NoDataPolicy
  onError: ErrorPolicy
  description: string | null
  enabled: boolean
  builtin: boolean
  createdBy: string
  createdAt: string
  updatedAt: string
}

/** One alert instance as services return it. */
export interface AlertInstance {
  id: number
  ruleId: number
  rule: string
  severity: Severity
  labels: Labels
  state: AlertState
  summary: string | null
  value: number | null
  activeAt: string | null
  firedAt: string | null
  lastTrueAt: string | null
  lastEvalAt: string
  lastNotifiedAt: string | null
  resolvedAt: string | null
  acked: {by: string; at: string} | null
  /** The silence that mutes it now, if any. */
  silencedBy: number | null
  /** The instance (of an `rds_down` rule) that inhibits it now, if any. */
  inhibitedBy: number | null
}

/** What the webhook channel posts and the email channel renders: one message for one rule's transitions in one run. */
export interface NotificationPayload {
  /** The idempotency key (alert_notifications.key): a receiver that has seen it drops the message. */
  key: string
  kind: 'firing' | 'resolved' | 'repeat'
  rule: {name: string; kind: string; severity: Severity; description: string | null}
  /** When the run that wrote it evaluated. */
  at: string
  /** Every instance the message is about (a group: 40 tenants overdue make one message). */
  alerts: Array<{labels: Labels; state: AlertState; summary: string | null; activeAt: string | null; firedAt: string | null; resolvedAt: string | null}>
  /** One line: `[FIRING:3] billing-overdue (warning)`. */
  title: string
  /** How many of the message's instances (counted in the title) `alerts` leaves out to keep the message under the outbox's size; absent when none. */
  omitted?: number
}
