import type {Knex} from 'knex'

import {searchText} from '../src/lib/text/search.js'

/**
 * What tenant:list sorts and filters on, kept with each tenant by every refresh
 * (sync:tenants, tenant:show): its active and ghost users, when a user was last
 * active, the customer health score with the signals behind it, and the text
 * `--search` matches (name, contact name and email, lower-cased and without
 * accents, so one query serves every engine). Each sort key has an index ending
 * in the id, the tie-breaker of a page cursor.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenant_master', (table) => {
    table.integer('active_user_count')
    table.integer('ghost_user_count')
    table.datetime('last_user_activity_at', {precision: 3})
    table.smallint('health_score')
    table.text('health_signals')
    table.text('search_text')
    table.index(['name', 'id'], 'tenant_master_name_id_index')
    table.index(['cached_user_count', 'id'], 'tenant_master_users_id_index')
    table.index(['cached_location_count', 'id'], 'tenant_master_locations_id_index')
    table.index(['health_score', 'id'], 'tenant_master_health_id_index')
    table.index(['cache_refreshed_at', 'id'], 'tenant_master_refreshed_id_index')
    table.index(['status'], 'tenant_master_status_index')
  })
  // The tenants already registered are found by --search at once, not only after their next refresh.
  let after = 0
  for (;;) {
    const rows = await knex('tenant_master')
      .where('id', '>', after)
      .orderBy('id')
      .limit(500)
      .select('id', 'name', 'primary_contact_name', 'primary_contact_email')
    if (rows.length === 0) break
    await knex.transaction(async (tx) => {
      for (const row of rows)
        await tx('tenant_master')
          .where({id: row.id})
          .update({search_text: searchText(row.name, row.primary_contact_name, row.primary_contact_email)})
    })
    after = Number(rows[rows.length - 1].id)
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenant_master', (table) => {
    table.dropIndex(['name', 'id'], 'tenant_master_name_id_index')
    table.dropIndex(['cached_user_count', 'id'], 'tenant_master_users_id_index')
    table.dropIndex(['cached_location_count', 'id'], 'tenant_master_locations_id_index')
    table.dropIndex(['health_score', 'id'], 'tenant_master_health_id_index')
    table.dropIndex(['cache_refreshed_at', 'id'], 'tenant_master_refreshed_id_index')
    table.dropIndex(['status'], 'tenant_master_status_index')
  })
  const columns = ['active_user_count', 'ghost_user_count', 'last_user_activity_at', 'health_score', 'health_signals', 'search_text']
  if (knex.client.config.client === 'better-sqlite3') {
    // knex drops a SQLite column by copying the table, which the foreign keys to tenant_master forbid; SQLite drops one in place.
    for (const column of columns) await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['tenant_master', column])
    return
  }
  await knex.schema.alterTable('tenant_master', (table) => {
    table.dropColumns(...columns)
  })
}
