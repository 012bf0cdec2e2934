import type {Knex} from 'knex'

/**
 * Every money column 64-bit: the amounts raiops bills (lib/billing/money.ts's
 * MAX_AMOUNT_MINOR, 10^15 minor units) no longer fit the 32-bit integers the
 * first migrations made (at most 2,147,483,647: 21,474,836.47 USD). On MariaDB
 * and PostgreSQL each becomes BIGINT, keeping its NOT NULL and default;
 * PostgreSQL returns BIGINT as a string, which the readers turn into a number
 * (db/values.ts `toMinor`). SQLite's INTEGER holds 64 bits already: nothing
 * to do there. Rolling back refuses while a value does not fit 32 bits.
 */

interface MoneyColumn {
  table: string
  column: string
  nullable: boolean
  defaultZero: boolean
}

const COLUMNS: readonly MoneyColumn[] = [
  {table: 'subscription_plans', column: 'price_cents', nullable: false, defaultZero: false},
  {table: 'subscription_plans', column: 'unit_price_minor', nullable: true, defaultZero: false},
  {table: 'tenant_billing', column: 'mrr_cents', nullable: false, defaultZero: true},
  {table: 'billing_events', column: 'mrr_cents', nullable: false, defaultZero: false},
  {table: 'billing_events', column: 'mrr_delta_cents', nullable: false, defaultZero: false},
  {table: 'payments', column: 'amount_cents', nullable: false, defaultZero: false},
]

const INT32_MAX = 2_147_483_647
const INT32_MIN = -2_147_483_648

const isSqlite = (knex: Knex): boolean => knex.client.config.client === 'better-sqlite3'

async function retype(knex: Knex, type: 'bigInteger' | 'integer'): Promise<void> {
  for (const {table, column, nullable, defaultZero} of COLUMNS)
    await knex.schema.alterTable(table, (t) => {
      const builder = type === 'bigInteger' ? t.bigInteger(column) : t.integer(column)
      if (!nullable) builder.notNullable()
      else builder.nullable()
      if (defaultZero) builder.defaultTo(0)
      builder.alter()
    })
}

export async function up(knex: Knex): Promise<void> {
  if (isSqlite(knex)) return
  await retype(knex, 'bigInteger')
}

export async function down(knex: Knex): Promise<void> {
  if (isSqlite(knex)) return
  for (const {table, column} of COLUMNS) {
    const [{n}] = await knex(table).where(column, '>', INT32_MAX).orWhere(column, '<', INT32_MIN).count({n: '*'})
    if (Number(n) > 0)
      throw new Error(`${n} row(s) of ${table}.${column} do not fit a 32-bit integer: rolling back would lose them; change or remove them first`)
  }
  await retype(knex, 'integer')
}
