import type {Knex} from 'knex'

/**
 * Subscription plans as billing needs them (lib/billing/plans.ts). A plan is a
 * code with one row per version: a change of price, interval, unit pricing or
 * currency adds a row with the next version number and the date its prices
 * apply from (`effective_from`), so a subscription that points at a version
 * keeps its price. `price_cents` (named before currencies other than cents
 * existed) is the base price per term in minor units of `currency`;
 * `interval_months` is the term's length (`interval` keeps its label);
 * `unit` (location | user), `unit_price_minor` and `included_units` price per
 * unit; `features` is a JSON array of strings; `archived_at` is set on every
 * version of an archived plan (is_active follows it).
 */

const COLUMNS = ['version', 'effective_from', 'interval_months', 'unit', 'unit_price_minor', 'included_units', 'trial_days', 'features', 'archived_at'] as const

/** The term of the labels rows may already hold. */
const MONTHS_OF: Record<string, number> = {
  month: 1,
  monthly: 1,
  quarter: 3,
  quarterly: 3,
  year: 12,
  yearly: 12,
  annual: 12,
  '2-year': 24,
  '3-year': 36,
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('subscription_plans', (table) => {
    table.dropUnique(['code'])
  })
  await knex.schema.alterTable('subscription_plans', (table) => {
    table.integer('version').notNullable().defaultTo(1)
    table.datetime('effective_from', {precision: 3})
    table.integer('interval_months').notNullable().defaultTo(1)
    table.string('unit', 16)
    table.integer('unit_price_minor')
    table.integer('included_units').notNullable().defaultTo(0)
    table.integer('trial_days').notNullable().defaultTo(0)
    table.text('features')
    table.datetime('archived_at', {precision: 3})
    table.unique(['code', 'version'], {indexName: 'subscription_plans_code_version_unique'})
  })
  // The plans that exist: their prices apply from their creation, their term from their label, an inactive one archived.
  await knex('subscription_plans')
    .whereNull('effective_from')
    .update({effective_from: knex.raw('??', ['created_at'])})
  for (const [label, months] of Object.entries(MONTHS_OF))
    await knex('subscription_plans').whereRaw('lower(??) = ?', ['interval', label]).update({interval_months: months})
  await knex('subscription_plans')
    .where((q) => q.where({is_active: false}))
    .update({archived_at: knex.raw('??', ['updated_at'])})
}

export async function down(knex: Knex): Promise<void> {
  const [{n}] = await knex('subscription_plans').where('version', '>', 1).count({n: '*'})
  if (Number(n) > 0)
    throw new Error(`${n} plan version(s) after the first exist: rolling back would lose them (the code is unique again); archive or remove them first`)
  await knex.schema.alterTable('subscription_plans', (table) => {
    table.dropUnique(['code', 'version'], 'subscription_plans_code_version_unique')
  })
  if (knex.client.config.client === 'better-sqlite3') {
    // knex drops a SQLite column by copying the table, which the foreign keys to subscription_plans forbid; SQLite drops one in place.
    for (const column of COLUMNS) await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['subscription_plans', column])
  } else {
    await knex.schema.alterTable('subscription_plans', (table) => {
      table.dropColumns(...COLUMNS)
    })
  }
  await knex.schema.alterTable('subscription_plans', (table) => {
    table.unique(['code'])
  })
}
