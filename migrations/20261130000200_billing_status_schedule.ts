import type {Knex} from 'knex'

/**
 * `tenant_billing.status_schedule`: what the health score needs to tell a
 * tenant's subscription status at any later instant without folding its
 * ledger (lib/billing/billing-status.ts), written with every billing change
 * (lib/billing/ledger-store.ts). A JSON object: `base`, the status each
 * recorded event gives from its effective date on, future-dated ones
 * included (`[epoch ms, status]`, in order); `unpaidFrom`, the end of the
 * first billing period never paid (epoch ms or null); `late`, periods paid
 * after they ended, paid after the change (`[end, paid at]`). A row written
 * before it existed has none and is read as before, from its dates.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenant_billing', (table) => {
    table.text('status_schedule')
  })
}

export async function down(knex: Knex): Promise<void> {
  // knex drops a SQLite column by copying the table, which the foreign keys to it forbid; SQLite drops one in place.
  if (knex.client.config.client === 'better-sqlite3') await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['tenant_billing', 'status_schedule'])
  else
    await knex.schema.alterTable('tenant_billing', (table) => {
      table.dropColumn('status_schedule')
    })
}
