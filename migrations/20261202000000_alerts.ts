import type {Knex} from 'knex'

/**
 * The alert engine (lib/alerts), whose whole state lives here so that a cron
 * run every five minutes does better than a restarted Prometheus:
 * - `alert_rules`: a kind with its parameters (JSON), `for` and
 *   `keep_firing_for` (ms), severity, labels (JSON), what NoData and an
 *   evaluation error mean, enabled; the defaults are seeded (`builtin`).
 * - `alert_instances`: one per rule and label set (`fingerprint`, the hash of
 *   the canonical labels), its state and when it became active, fired, was
 *   last true, last evaluated, last notified, resolved; who acknowledged it.
 * - `alert_transitions`: every change of state, for `alerts:history`.
 * - `alert_notifications`: the outbox; a row per message with a unique `key`
 *   written before it is sent, sent at least once, its key the idempotency key.
 * - `alert_silences`: label matchers (JSON), a reason, an expiry.
 * - `alert_subscriptions`: an operator's channel (email, webhook) and filters.
 * - `alert_runs`: each evaluation run; the latest is the engine's heartbeat.
 *
 * Also the alert permissions, granted as the built-in roles have them when
 * the control database's permissions are already seeded.
 */

const PERMISSIONS = [
  {name: 'alerts.view', description: 'see alert rules, active alerts, their history, silences and subscriptions'},
  {name: 'alerts.run', description: 'evaluate the alert rules and send notifications (alerts:run, for cron)'},
  {name: 'alerts.manage-rules', description: 'create, edit, enable and disable alert rules'},
  {name: 'alerts.manage-subscriptions', description: "manage alert subscriptions, anyone's"},
  {name: 'alerts.silence', description: 'silence and acknowledge alerts'},
]
const GRANTS = [...PERMISSIONS.map((p) => ({role: 'system_admin', permission: p.name})), {role: 'read_only', permission: 'alerts.view'}]

function at(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return table.datetime(name, {precision: 3})
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('alert_rules', (table) => {
    table.increments('id')
    table.string('name', 128).notNullable()
    table.string('kind', 64).notNullable()
    /** JSON: the kind's parameters. */
    table.text('params').notNullable()
    table.bigInteger('for_ms').notNullable().defaultTo(0)
    table.bigInteger('keep_firing_for_ms').notNullable().defaultTo(0)
    table.string('severity', 16).notNullable()
    /** JSON object of label name → value, added to every instance. */
    table.text('labels').notNullable()
    table.string('no_data', 16).notNullable()
    table.string('on_error', 16).notNullable()
    table.text('description')
    table.boolean('enabled').notNullable().defaultTo(true)
    table.boolean('builtin').notNullable().defaultTo(false)
    table.string('created_by', 255).notNullable()
    at(table, 'created_at').notNullable()
    at(table, 'updated_at').notNullable()
    table.unique(['name'], {indexName: 'alert_rules_name_unique'})
  })
  await knex.schema.createTable('alert_runs', (table) => {
    table.increments('id')
    at(table, 'started_at').notNullable()
    at(table, 'finished_at')
    /** `running`, `ok` (every rule evaluated, every notification sent), `partial` (a rule errored or a notification is still queued), `failed`. */
    table.string('status', 16).notNullable()
    /** The evaluation time of the run before this one that finished; null for the first. */
    at(table, 'previous_at')
    /** Set when the gap since previous_at exceeded twice the interval: states were made unknown, never resolved. */
    table.boolean('gap').notNullable().defaultTo(false)
    table.string('holder', 255).notNullable()
    /** JSON: rules evaluated, errors, transitions, notifications queued and sent. */
    table.text('stats')
    table.text('error')
    table.index(['finished_at'], 'alert_runs_finished_index')
  })
  await knex.schema.createTable('alert_instances', (table) => {
    table.increments('id')
    table.integer('rule_id').unsigned().notNullable().references('id').inTable('alert_rules').onDelete('CASCADE')
    /** sha256 (hex) of the canonical label set: the identity of the instance within its rule. */
    table.string('fingerprint', 64).notNullable()
    /** JSON object: the instance's labels (the rule's and the evaluation's). */
    table.text('labels').notNullable()
    /** `pending`, `firing`, `resolved`, `inactive` (pending that cleared), `unknown` (not observed across a gap). */
    table.string('state', 16).notNullable()
    /** What the last evaluation said of it, one line. */
    table.text('summary')
    table.double('value')
    /** When the condition became true (start of pending). */
    at(table, 'active_at')
    at(table, 'fired_at')
    /** The last evaluation at which the condition held (keep_firing_for counts from it). */
    at(table, 'last_true_at')
    at(table, 'last_eval_at').notNullable()
    at(table, 'last_notified_at')
    at(table, 'resolved_at')
    table.string('acked_by', 255)
    at(table, 'acked_at')
    at(table, 'created_at').notNullable()
    at(table, 'updated_at').notNullable()
    table.unique(['rule_id', 'fingerprint'], {indexName: 'alert_instances_rule_fingerprint_unique'})
    table.index(['state'], 'alert_instances_state_index')
  })
  await knex.schema.createTable('alert_transitions', (table) => {
    table.increments('id')
    table.integer('instance_id').unsigned().notNullable().references('id').inTable('alert_instances').onDelete('CASCADE')
    table.integer('rule_id').unsigned().notNullable()
    table.integer('run_id').unsigned()
    table.string('from_state', 16).notNullable()
    table.string('to_state', 16).notNullable()
    at(table, 'at').notNullable()
    table.text('summary')
    /** JSON: the instance's labels then. */
    table.text('labels').notNullable()
    /** Whether a silence or an inhibiting alert kept this transition from being notified. */
    table.string('muted_by', 255)
    table.index(['at'], 'alert_transitions_at_index')
    table.index(['instance_id'], 'alert_transitions_instance_index')
  })
  await knex.schema.createTable('alert_subscriptions', (table) => {
    table.increments('id')
    table.integer('operator_id').unsigned().notNullable().references('id').inTable('operators').onDelete('CASCADE')
    /** `email` (to the operator, or `target`) or `webhook` (to `target`, signed). */
    table.string('channel', 16).notNullable()
    table.string('target', 1024)
    /** JSON arrays or null (any): severities, rule names; JSON array of matchers. */
    table.text('severities')
    table.text('rules')
    table.text('matchers')
    table.boolean('send_resolved').notNullable().defaultTo(true)
    table.boolean('enabled').notNullable().defaultTo(true)
    table.string('created_by', 255).notNullable()
    at(table, 'created_at').notNullable()
    at(table, 'updated_at').notNullable()
  })
  await knex.schema.createTable('alert_notifications', (table) => {
    table.increments('id')
    /** Unique: subscription + rule + the transitions it carries; also the idempotency key the receiver sees. */
    table.string('key', 191).notNullable()
    table.integer('subscription_id').unsigned().references('id').inTable('alert_subscriptions').onDelete('SET NULL')
    table.string('channel', 16).notNullable()
    table.string('target', 1024).notNullable()
    table.integer('rule_id').unsigned().notNullable()
    table.integer('run_id').unsigned()
    /** `firing`, `resolved`, `repeat`. */
    table.string('kind', 16).notNullable()
    /** JSON: the message (see lib/alerts/types.ts NotificationPayload). */
    table.text('payload').notNullable()
    /** `pending` (not yet delivered: retried by the next run), `sent`, `dropped` (its subscription is gone or it gave up). */
    table.string('state', 16).notNullable()
    table.integer('attempts').notNullable().defaultTo(0)
    table.text('last_error')
    at(table, 'created_at').notNullable()
    at(table, 'next_attempt_at').notNullable()
    at(table, 'sent_at')
    table.unique(['key'], {indexName: 'alert_notifications_key_unique'})
    table.index(['state', 'next_attempt_at'], 'alert_notifications_state_index')
  })
  await knex.schema.createTable('alert_silences', (table) => {
    table.increments('id')
    /** JSON array of matchers (`name=value`, `name!=value`, `name=~regex`, `name!~regex`). */
    table.text('matchers').notNullable()
    table.text('reason').notNullable()
    table.string('created_by', 255).notNullable()
    at(table, 'starts_at').notNullable()
    at(table, 'ends_at').notNullable()
    /** Set when it was lifted before its end. */
    at(table, 'expired_at')
    at(table, 'created_at').notNullable()
    table.index(['ends_at'], 'alert_silences_ends_index')
  })

  const now = new Date()
  const existing = new Set((await knex('raiops_permissions').pluck('name')) as string[])
  // A new control database has none yet: `raiops init` seeds them all, these with them.
  if (existing.size === 0) return
  const missing = PERMISSIONS.filter((p) => !existing.has(p.name))
  if (missing.length > 0) await knex('raiops_permissions').insert(missing.map((p) => ({...p, created_at: now, updated_at: now})))
  const roles = new Set((await knex('raiops_roles').pluck('name')) as string[])
  for (const grant of GRANTS) {
    if (!roles.has(grant.role)) continue
    const held = await knex('raiops_role_permissions').where(grant).first('id')
    if (held === undefined) await knex('raiops_role_permissions').insert({...grant, created_at: now})
  }
}

export async function down(knex: Knex): Promise<void> {
  const names = PERMISSIONS.map((p) => p.name)
  await knex('raiops_role_permissions').whereIn('permission', names).delete()
  await knex('raiops_permissions').whereIn('name', names).delete()
  await knex.schema.dropTable('alert_silences')
  await knex.schema.dropTable('alert_notifications')
  await knex.schema.dropTable('alert_subscriptions')
  await knex.schema.dropTable('alert_transitions')
  await knex.schema.dropTable('alert_instances')
  await knex.schema.dropTable('alert_runs')
  await knex.schema.dropTable('alert_rules')
}
