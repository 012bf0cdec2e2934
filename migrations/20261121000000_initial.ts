import type {Knex} from 'knex'

/**
 * Every table of DESIGN.md §2. Portable across SQLite, MySQL/MariaDB and PostgreSQL:
 * timestamps are DATETIME(3)/timestamptz(3), JSON is stored as text, booleans as
 * the engine's boolean. Later migrations only add columns and indexes.
 */

const GENESIS_HASH = '0'.repeat(64)

function timestamps(table: Knex.CreateTableBuilder): void {
  table.datetime('created_at', {precision: 3}).notNullable()
  table.datetime('updated_at', {precision: 3}).notNullable()
}

function at(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return table.datetime(name, {precision: 3})
}

function rdsRef(table: Knex.CreateTableBuilder, name = 'rds_instance_id'): Knex.ColumnBuilder {
  return table.integer(name).unsigned()
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rds_instances', (table) => {
    table.increments('id')
    table.string('name', 64).notNullable().unique()
    table.string('engine', 16).notNullable()
    table.string('host', 255)
    table.integer('port')
    table.string('username', 128)
    table.text('password_enc')
    table.string('rai_database', 512).notNullable()
    table.string('providers_database', 512)
    table.string('app_url', 512)
    table.boolean('is_master').notNullable().defaultTo(false)
    table.boolean('is_active').notNullable().defaultTo(true)
    table.string('state', 16).notNullable().defaultTo('online')
    table.string('health_status', 16).notNullable().defaultTo('unknown')
    at(table, 'health_checked_at')
    table.double('health_latency_ms')
    table.text('health_error')
    table.boolean('impersonation_enabled').notNullable().defaultTo(true)
    table.string('impersonation_audience', 255)
    table.integer('impersonation_ttl_seconds')
    timestamps(table)
  })

  await knex.schema.createTable('health_checks', (table) => {
    table.increments('id')
    rdsRef(table).notNullable().references('id').inTable('rds_instances').onDelete('CASCADE')
    table.string('status', 16).notNullable()
    table.double('latency_ms')
    table.text('details')
    at(table, 'checked_at').notNullable()
    table.index(['rds_instance_id', 'checked_at'])
  })

  await knex.schema.createTable('tenant_master', (table) => {
    table.increments('id')
    rdsRef(table).notNullable().references('id').inTable('rds_instances')
    table.bigInteger('remote_tenant_id').notNullable()
    table.string('name', 255).notNullable()
    table.string('primary_contact_name', 255)
    table.string('primary_contact_email', 255)
    table.string('status', 32)
    table.integer('cached_user_count').notNullable().defaultTo(0)
    table.integer('cached_location_count').notNullable().defaultTo(0)
    at(table, 'cache_refreshed_at')
    at(table, 'remote_missing_at')
    timestamps(table)
    table.unique(['rds_instance_id', 'remote_tenant_id'])
    table.index(['name'])
  })

  await knex.schema.createTable('user_email_routing_cache', (table) => {
    table.increments('id')
    table.bigInteger('source_id').notNullable().unique()
    table.string('email', 255).notNullable().index()
    table.integer('tenant_master_id').unsigned().references('id').inTable('tenant_master')
    table.bigInteger('remote_tenant_id')
    table.bigInteger('remote_user_id')
    rdsRef(table)
    table.string('status', 32)
    at(table, 'source_updated_at')
    at(table, 'synced_at').notNullable()
  })

  await knex.schema.createTable('sync_runs', (table) => {
    table.increments('id')
    table.string('kind', 32).notNullable()
    rdsRef(table).references('id').inTable('rds_instances').onDelete('SET NULL')
    at(table, 'started_at').notNullable()
    at(table, 'finished_at')
    table.string('status', 16).notNullable()
    table.text('stats')
    table.text('error')
    table.string('host', 255)
    table.index(['kind', 'started_at'])
    table.index(['rds_instance_id', 'kind'])
  })

  await knex.schema.createTable('sync_state', (table) => {
    table.string('name', 128).primary()
    table.text('value')
    at(table, 'updated_at').notNullable()
  })

  await knex.schema.createTable('locks', (table) => {
    table.string('name', 128).primary()
    table.string('holder', 255).notNullable()
    at(table, 'acquired_at').notNullable()
    at(table, 'expires_at').notNullable()
  })

  await knex.schema.createTable('raiops_roles', (table) => {
    table.increments('id')
    table.string('name', 64).notNullable().unique()
    table.string('description', 255)
    table.boolean('is_builtin').notNullable().defaultTo(false)
    timestamps(table)
  })

  await knex.schema.createTable('raiops_permissions', (table) => {
    table.increments('id')
    table.string('name', 128).notNullable().unique()
    table.string('description', 255)
    timestamps(table)
  })

  await knex.schema.createTable('raiops_role_permissions', (table) => {
    table.increments('id')
    table.string('role', 64).notNullable().references('name').inTable('raiops_roles').onDelete('CASCADE')
    table.string('permission', 128).notNullable().references('name').inTable('raiops_permissions').onDelete('CASCADE')
    at(table, 'created_at').notNullable()
    table.unique(['role', 'permission'])
  })

  await knex.schema.createTable('operators', (table) => {
    table.increments('id')
    table.string('name', 255).notNullable()
    table.string('email', 255).notNullable().unique()
    table.string('password_hash', 255).notNullable()
    table.string('role', 64).notNullable().references('name').inTable('raiops_roles')
    table.boolean('is_active').notNullable().defaultTo(true)
    at(table, 'last_login_at')
    table.integer('failed_logins').notNullable().defaultTo(0)
    at(table, 'locked_until')
    timestamps(table)
  })

  await knex.schema.createTable('api_tokens', (table) => {
    table.increments('id')
    table.string('name', 128).notNullable().unique()
    table.string('token_hash', 128).notNullable().unique()
    table.integer('operator_id').unsigned().references('id').inTable('operators')
    table.string('role', 64).notNullable().references('name').inTable('raiops_roles')
    at(table, 'expires_at')
    at(table, 'last_used_at')
    at(table, 'revoked_at')
    timestamps(table)
  })

  await knex.schema.createTable('subscription_plans', (table) => {
    table.increments('id')
    table.string('code', 64).notNullable().unique()
    table.string('name', 255).notNullable()
    table.integer('price_cents').notNullable()
    table.string('currency', 3).notNullable().defaultTo('USD')
    table.string('interval', 16).notNullable().defaultTo('month')
    table.boolean('is_active').notNullable().defaultTo(true)
    timestamps(table)
  })

  await knex.schema.createTable('tenant_billing', (table) => {
    table.increments('id')
    table.integer('tenant_master_id').unsigned().notNullable().unique().references('id').inTable('tenant_master')
    table.integer('plan_id').unsigned().references('id').inTable('subscription_plans')
    table.string('status', 32).notNullable()
    table.integer('mrr_cents').notNullable().defaultTo(0)
    table.string('currency', 3).notNullable().defaultTo('USD')
    table.string('billing_email', 255)
    at(table, 'started_at')
    at(table, 'cancelled_at')
    at(table, 'next_billing_at')
    timestamps(table)
  })

  await knex.schema.createTable('billing_events', (table) => {
    table.increments('id')
    table.integer('tenant_master_id').unsigned().notNullable().references('id').inTable('tenant_master')
    table.string('type', 32).notNullable()
    table.integer('plan_id').unsigned().references('id').inTable('subscription_plans')
    table.integer('mrr_cents').notNullable()
    table.integer('mrr_delta_cents').notNullable()
    at(table, 'effective_at').notNullable()
    table.text('details')
    at(table, 'created_at').notNullable()
    table.index(['tenant_master_id', 'effective_at'])
  })

  await knex.schema.createTable('payments', (table) => {
    table.increments('id')
    table.integer('tenant_master_id').unsigned().notNullable().references('id').inTable('tenant_master')
    table.integer('amount_cents').notNullable()
    table.string('currency', 3).notNullable().defaultTo('USD')
    at(table, 'paid_at').notNullable()
    table.string('method', 32)
    table.string('reference', 255)
    timestamps(table)
  })

  await knex.schema.createTable('audit_logs', (table) => {
    table.increments('id')
    table.bigInteger('seq').notNullable().unique()
    at(table, 'occurred_at').notNullable()
    table.string('actor_type', 16).notNullable()
    table.string('actor', 255).notNullable()
    table.string('action', 128).notNullable()
    table.string('target_type', 64)
    table.string('target_id', 128)
    rdsRef(table)
    table.integer('tenant_master_id').unsigned()
    table.text('old_values')
    table.text('new_values')
    table.text('source')
    table.string('prev_hash', 64).notNullable()
    table.string('hash', 64).notNullable()
    table.index(['action'])
    table.index(['occurred_at'])
    table.index(['actor'])
  })

  // The head of the audit hash chain: one row, locked by every append so the chain never forks.
  await knex.schema.createTable('audit_head', (table) => {
    table.integer('id').primary()
    table.bigInteger('seq').notNullable()
    table.string('hash', 64).notNullable()
  })
  await knex('audit_head').insert({id: 1, seq: 0, hash: GENESIS_HASH})

  await knex.schema.createTable('impersonations', (table) => {
    table.increments('id')
    table.string('jti', 64).notNullable().unique()
    table.string('operator', 255).notNullable()
    table.integer('tenant_master_id').unsigned().notNullable().references('id').inTable('tenant_master')
    at(table, 'issued_at').notNullable()
    at(table, 'expires_at').notNullable()
    at(table, 'used_at')
    table.text('reason')
  })

  // Fingerprints of the master keys that have encrypted secrets here, so a wrong key
  // is named as such instead of surfacing as a failed decryption.
  await knex.schema.createTable('raiops_keys', (table) => {
    table.string('kid', 64).primary()
    table.string('fingerprint', 64).notNullable()
    at(table, 'created_at').notNullable()
  })
}

const TABLES_IN_DROP_ORDER = [
  'raiops_keys',
  'impersonations',
  'audit_head',
  'audit_logs',
  'payments',
  'billing_events',
  'tenant_billing',
  'subscription_plans',
  'api_tokens',
  'operators',
  'raiops_role_permissions',
  'raiops_permissions',
  'raiops_roles',
  'locks',
  'sync_state',
  'sync_runs',
  'user_email_routing_cache',
  'tenant_master',
  'health_checks',
  'rds_instances',
]

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES_IN_DROP_ORDER) await knex.schema.dropTableIfExists(table)
}
