import type {Knex} from 'knex'

/**
 * The billing ledger (lib/billing/ledger.ts, subscriptions.ts, payments.ts).
 *
 * - `billing_events` is append-only: each row is one change of a tenant's
 *   subscription, effective at `effective_at` (which may be before
 *   `recorded_at`: a backdated change, audited). `changes` is a JSON object of
 *   what the event sets and nothing else (plan row id, quantity or
 *   quantity_mode, discount, trial_until, status), so a backdated event changes
 *   every later state of the fold in (effective_at, id) order. `mrr_cents` and
 *   `mrr_delta_cents` are the monthly value after the event as computed when it
 *   was recorded (informational).
 * - `tenant_billing` is the current state, derived from the events by every
 *   change; `version` counts the changes.
 * - `payments` says what was paid for which billing period, and refunds point
 *   at the payment they refund.
 */

const EVENT_COLUMNS = ['currency', 'changes', 'actor', 'reason', 'recorded_at'] as const
const BILLING_COLUMNS = [
  'quantity',
  'quantity_mode',
  'discount_percent_bp',
  'discount_amount_minor',
  'discount_until',
  'trial_until',
  'paid_through',
  'last_event_id',
  'version',
] as const
const PAYMENT_COLUMNS = ['status', 'period_start', 'period_end', 'refund_of', 'recorded_by', 'reason'] as const

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('billing_events', (table) => {
    table.string('currency', 3)
    table.text('changes')
    table.string('actor', 255)
    table.text('reason')
    table.datetime('recorded_at', {precision: 3})
  })
  await knex.schema.alterTable('tenant_billing', (table) => {
    table.integer('quantity').notNullable().defaultTo(0)
    table.string('quantity_mode', 16).notNullable().defaultTo('fixed')
    table.integer('discount_percent_bp')
    table.bigInteger('discount_amount_minor')
    table.datetime('discount_until', {precision: 3})
    table.datetime('trial_until', {precision: 3})
    table.datetime('paid_through', {precision: 3})
    table.integer('last_event_id')
    table.integer('version').notNullable().defaultTo(0)
  })
  await knex.schema.alterTable('payments', (table) => {
    table.string('status', 16).notNullable().defaultTo('succeeded')
    table.datetime('period_start', {precision: 3})
    table.datetime('period_end', {precision: 3})
    table.integer('refund_of').unsigned()
    table.string('recorded_by', 255)
    table.text('reason')
    table.index(['refund_of'], 'payments_refund_of_index')
  })
}

async function dropColumns(knex: Knex, tableName: string, columns: readonly string[]): Promise<void> {
  if (knex.client.config.client === 'better-sqlite3') {
    // knex drops a SQLite column by copying the table, which the foreign keys to these tables forbid; SQLite drops one in place.
    for (const column of columns) await knex.raw('ALTER TABLE ?? DROP COLUMN ??', [tableName, column])
    return
  }
  await knex.schema.alterTable(tableName, (table) => {
    table.dropColumns(...columns)
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (table) => {
    table.dropIndex(['refund_of'], 'payments_refund_of_index')
  })
  await dropColumns(knex, 'payments', PAYMENT_COLUMNS)
  await dropColumns(knex, 'tenant_billing', BILLING_COLUMNS)
  await dropColumns(knex, 'billing_events', EVENT_COLUMNS)
}
