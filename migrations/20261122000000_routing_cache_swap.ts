import type {Knex} from 'knex'

/**
 * `sync:routing --truncate` rebuilds the routing cache in a staging table and
 * swaps it in; MySQL's CREATE TABLE … LIKE copies no foreign key, so the cache
 * keeps its link to tenant_master as an indexed column without one (rds:remove
 * deletes a removed RDS's cache rows itself).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('user_email_routing_cache', (table) => {
    table.dropForeign(['tenant_master_id'])
  })
  // MySQL keeps the index its foreign key needed; the other engines get one.
  if (knex.client.config.client !== 'mysql2') {
    await knex.schema.alterTable('user_email_routing_cache', (table) => {
      table.index(['tenant_master_id'])
    })
  }
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'better-sqlite3') {
    // A rebuild on SQLite (src/lib/sync/sqlite-staging.ts) leaves the index under one of two names.
    for (const name of ['user_email_routing_cache_tenant_master_id_index', 'user_email_routing_cache_tenant_master_id_index_alt'])
      await knex.raw('DROP INDEX IF EXISTS ??', [name])
  } else if (knex.client.config.client !== 'mysql2') {
    await knex.schema.alterTable('user_email_routing_cache', (table) => {
      table.dropIndex(['tenant_master_id'])
    })
  }
  await knex.schema.alterTable('user_email_routing_cache', (table) => {
    table.foreign('tenant_master_id').references('id').inTable('tenant_master')
  })
}
