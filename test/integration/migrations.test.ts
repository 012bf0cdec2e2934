import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {migrations, type Migration} from '../../migrations/index.js'
import {toIso, toMinor} from '../../src/lib/db/values.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

/** The migrator as raiops drives it (src/lib/db/control-db.ts): the same source, the same bookkeeping table. */
const migratorConfig: Knex.MigratorConfig = {
  migrationSource: {
    getMigrations: async () => migrations,
    getMigrationName: (migration: Migration) => migration.name,
    getMigration: async (migration: Migration) => migration,
  },
  tableName: 'knex_migrations',
}

const T0 = new Date('2026-11-20T10:11:12.345Z')
const T1 = new Date('2026-11-21T08:00:00.125Z')

/**
 * The rows written once the initial schema exists, as every later migration must
 * keep them: strings, integers, booleans, millisecond timestamps and NULLs.
 */
async function seedRows(db: Knex): Promise<void> {
  await db('rds_instances').insert({
    name: 'main',
    engine: 'mysql',
    host: 'db.example.com',
    port: 3306,
    username: 'raiops',
    password_enc: 'v1:test1:abc',
    rai_database: 'rai',
    is_master: true,
    created_at: T0,
    updated_at: T0,
  })
  await db('tenant_master').insert({
    rds_instance_id: 1,
    remote_tenant_id: 9_000_000_001,
    name: 'Acme',
    primary_contact_email: 'ops@acme.example',
    cached_user_count: 7,
    created_at: T0,
    updated_at: T0,
  })
  await db('user_email_routing_cache').insert({
    source_id: 42,
    email: 'jane@acme.example',
    tenant_master_id: 1,
    remote_tenant_id: 9_000_000_001,
    remote_user_id: 5,
    rds_instance_id: 1,
    status: 'active',
    source_updated_at: T0,
    synced_at: T1,
  })
  await db('raiops_roles').insert({name: 'system_admin', description: 'all', is_builtin: true, created_at: T0, updated_at: T0})
  await db('raiops_permissions').insert({name: 'rds.view', description: 'list RDS', created_at: T0, updated_at: T0})
  await db('operators').insert({
    name: 'Ops',
    email: 'ops@example.com',
    password_hash: '$argon2id$hash',
    role: 'system_admin',
    failed_logins: 2,
    created_at: T0,
    updated_at: T0,
  })
  await db('impersonations').insert({
    jti: 'jti-1',
    operator: 'ops@example.com',
    tenant_master_id: 1,
    issued_at: T0,
    expires_at: T1,
    reason: 'support',
  })
  await db('raiops_keys').insert({kid: 'test1', fingerprint: 'f'.repeat(64), created_at: T0})
  await db('subscription_plans').insert([
    PLAN_ROW,
    {...PLAN_ROW, code: 'legacy', name: 'Legacy', price_cents: 900, interval: 'month', is_active: false, updated_at: T1},
  ])
}

/** The seeded rows, read back in a form every engine agrees on. */
async function seededRows(db: Knex): Promise<unknown> {
  const [rds] = await db('rds_instances').select('name', 'host', 'port', 'password_enc', 'is_master', 'created_at')
  const [tenant] = await db('tenant_master').select('remote_tenant_id', 'name', 'primary_contact_email', 'cached_user_count')
  const cache = await db('user_email_routing_cache').select('source_id', 'email', 'tenant_master_id', 'source_updated_at', 'synced_at')
  const [operator] = await db('operators').select('email', 'role', 'failed_logins', 'is_active')
  const [impersonation] = await db('impersonations').select('jti', 'tenant_master_id', 'expires_at', 'reason')
  const [key] = await db('raiops_keys').select('kid', 'fingerprint', 'created_at')
  const [head] = await db('audit_head').select('seq', 'hash')
  return {
    rds: {...rds, port: Number(rds.port), is_master: Boolean(rds.is_master), created_at: toIso(rds.created_at)},
    tenant: {...tenant, remote_tenant_id: String(tenant.remote_tenant_id), cached_user_count: Number(tenant.cached_user_count)},
    cache: cache.map((row) => ({
      ...row,
      source_id: Number(row.source_id),
      tenant_master_id: Number(row.tenant_master_id),
      source_updated_at: toIso(row.source_updated_at),
      synced_at: toIso(row.synced_at),
    })),
    operator: {...operator, failed_logins: Number(operator.failed_logins), is_active: Boolean(operator.is_active)},
    impersonation: {
      ...impersonation,
      tenant_master_id: Number(impersonation.tenant_master_id),
      expires_at: toIso(impersonation.expires_at),
    },
    key: {...key, created_at: toIso(key.created_at)},
    head: {seq: Number(head.seq), hash: head.hash},
  }
}

const SEEDED = {
  rds: {name: 'main', host: 'db.example.com', port: 3306, password_enc: 'v1:test1:abc', is_master: true, created_at: T0.toISOString()},
  tenant: {remote_tenant_id: '9000000001', name: 'Acme', primary_contact_email: 'ops@acme.example', cached_user_count: 7},
  cache: [{source_id: 42, email: 'jane@acme.example', tenant_master_id: 1, source_updated_at: T0.toISOString(), synced_at: T1.toISOString()}],
  operator: {email: 'ops@example.com', role: 'system_admin', failed_logins: 2, is_active: true},
  impersonation: {jti: 'jti-1', tenant_master_id: 1, expires_at: T1.toISOString(), reason: 'support'},
  key: {kid: 'test1', fingerprint: 'f'.repeat(64), created_at: T0.toISOString()},
  head: {seq: 0, hash: '0'.repeat(64)},
}

/** A plan as the initial schema has it (the billing_plans migration adds versions). */
const PLAN_ROW = {
  code: 'pro-yearly',
  name: 'Pro yearly',
  price_cents: 49900,
  currency: 'EUR',
  interval: 'year',
  is_active: true,
  created_at: T0,
  updated_at: T0,
}

/** A routing cache row whose tenant does not exist: refused while the cache has a foreign key to tenant_master. */
const orphanCacheRow = {source_id: 43, email: 'orphan@example.com', tenant_master_id: 999_999, synced_at: T1}

interface MigrationCase {
  /** Checks once the migration is applied (the seeded rows are checked at every step). */
  afterUp(db: Knex): Promise<void>
  /** Checks once it is rolled back again. */
  afterDown(db: Knex): Promise<void>
}

/** What each migration must do to the data, by name: every migration in migrations/ has an entry. */
const CASES: Record<string, MigrationCase> = {
  '20261121000000_initial': {
    async afterUp(db) {
      expect(await db('audit_head').select('id', 'seq', 'hash')).toEqual([{id: 1, seq: expect.anything(), hash: '0'.repeat(64)}])
      await seedRows(db)
    },
    async afterDown(db) {
      for (const table of ['rds_instances', 'tenant_master', 'user_email_routing_cache', 'operators', 'audit_logs', 'audit_head', 'raiops_keys'])
        expect(await db.schema.hasTable(table), table).toBe(false)
    },
  },
  '20261122000000_routing_cache_swap': {
    async afterUp(db) {
      // The cache no longer refers to tenant_master by a foreign key (a staging table copied with LIKE has none).
      await db('user_email_routing_cache').insert(orphanCacheRow)
      expect(await db('user_email_routing_cache').where({source_id: 43}).select('email')).toEqual([{email: 'orphan@example.com'}])
      await db('user_email_routing_cache').where({source_id: 43}).delete()
    },
    async afterDown(db) {
      await expect(db('user_email_routing_cache').insert(orphanCacheRow)).rejects.toThrow(/foreign key|FOREIGN KEY/i)
    },
  },
  '20261123000000_webhook_events': {
    async afterUp(db) {
      await db('webhook_events').insert({event_id: 'evt-1', audit_log_id: 3, received_at: T1})
      const rows = await db('webhook_events').select('event_id', 'audit_log_id', 'received_at')
      expect(rows.map((r) => ({...r, audit_log_id: Number(r.audit_log_id), received_at: toIso(r.received_at)}))).toEqual([
        {event_id: 'evt-1', audit_log_id: 3, received_at: T1.toISOString()},
      ])
    },
    async afterDown(db) {
      expect(await db.schema.hasTable('webhook_events')).toBe(false)
    },
  },
  '20261123000001_auth_sessions': {
    async afterUp(db) {
      await db('auth_sessions').insert({jti: 'session-1', operator_id: 1, host: 'laptop', issued_at: T0, expires_at: T1})
      const [row] = await db('auth_sessions').select('jti', 'operator_id', 'expires_at', 'revoked_at')
      expect({...row, operator_id: Number(row.operator_id), expires_at: toIso(row.expires_at)}).toEqual({
        jti: 'session-1',
        operator_id: 1,
        expires_at: T1.toISOString(),
        revoked_at: null,
      })
    },
    async afterDown(db) {
      expect(await db.schema.hasTable('auth_sessions')).toBe(false)
    },
  },
  '20261124000000_impersonation_ticket': {
    async afterUp(db) {
      // A link issued before the column existed has no ticket; a new one keeps it.
      expect(await db('impersonations').select('jti', 'ticket')).toEqual([{jti: 'jti-1', ticket: null}])
      await db('impersonations').where({jti: 'jti-1'}).update({ticket: 'SUP-1234'})
      expect(await db('impersonations').select('ticket')).toEqual([{ticket: 'SUP-1234'}])
    },
    async afterDown(db) {
      expect(await db.schema.hasColumn('impersonations', 'ticket')).toBe(false)
    },
  },
  '20261125000300_key_retirement': {
    async afterUp(db) {
      // A key written before the column existed is not retired.
      expect(await db('raiops_keys').select('kid', 'retired_at')).toEqual([{kid: 'test1', retired_at: null}])
      await db('raiops_keys').where({kid: 'test1'}).update({retired_at: T1})
      const [row] = await db('raiops_keys').select('retired_at')
      expect(toIso(row.retired_at)).toBe(T1.toISOString())
      await db('raiops_keys').where({kid: 'test1'}).update({retired_at: null})
    },
    async afterDown(db) {
      expect(await db.schema.hasColumn('raiops_keys', 'retired_at')).toBe(false)
    },
  },
  '20261129000000_tenant_health': {
    async afterUp(db) {
      // A tenant synced before the columns existed has no score until its next refresh, and is found by --search at once.
      expect(await db('tenant_master').select('id', 'health_score', 'active_user_count', 'search_text')).toEqual([
        {id: 1, health_score: null, active_user_count: null, search_text: 'acme\nops@acme.example'},
      ])
      await db('tenant_master').where({id: 1}).update({health_score: 87, health_signals: '[]', search_text: 'acme', last_user_activity_at: T1})
      const [row] = await db('tenant_master').select('health_score', 'last_user_activity_at')
      expect([Number(row.health_score), toIso(row.last_user_activity_at)]).toEqual([87, T1.toISOString()])
    },
    async afterDown(db) {
      expect(await db.schema.hasColumn('tenant_master', 'health_score')).toBe(false)
      expect(await db.schema.hasColumn('tenant_master', 'search_text')).toBe(false)
      const [{n}] = await db('tenant_master').count({n: '*'})
      expect(Number(n)).toBe(1)
    },
  },
  '20261130000000_billing_plans': {
    async afterUp(db) {
      // A plan made before versions existed is version 1, its term from its label, its prices from its creation.
      const [plan] = await db('subscription_plans')
        .where({code: 'pro-yearly'})
        .select('version', 'interval_months', 'effective_from', 'archived_at', 'features')
      expect({...plan, effective_from: toIso(plan.effective_from)}).toEqual({
        version: 1,
        interval_months: 12,
        effective_from: T0.toISOString(),
        archived_at: null,
        features: null,
      })
      const [old] = await db('subscription_plans').where({code: 'legacy'}).select('interval_months', 'archived_at')
      expect([old.interval_months, toIso(old.archived_at)]).toEqual([1, T1.toISOString()])
      // A code may now have several versions, each number once.
      const version2 = {...PLAN_ROW, version: 2, price_cents: 59900, unit: 'location', unit_price_minor: 1000, included_units: 2, features: '["pos"]'}
      await db('subscription_plans').insert(version2)
      await expect(db('subscription_plans').insert(version2)).rejects.toThrow(/unique|UNIQUE|Duplicate/)
      // Rolling back with a second version would lose it: refused, then allowed once it is gone.
      await expect(db.migrate.down(migratorConfig)).rejects.toThrow(/plan version\(s\) after the first exist/)
      await db('subscription_plans').where({version: 2}).delete()
    },
    async afterDown(db) {
      expect(await db.schema.hasColumn('subscription_plans', 'version')).toBe(false)
      expect(await db.schema.hasColumn('subscription_plans', 'archived_at')).toBe(false)
      expect(await db('subscription_plans').orderBy('code').select('code', 'price_cents')).toEqual([
        {code: 'legacy', price_cents: 900},
        {code: 'pro-yearly', price_cents: 49900},
      ])
      // The code is unique again.
      await expect(db('subscription_plans').insert({...PLAN_ROW, code: 'legacy'})).rejects.toThrow(/unique|UNIQUE|Duplicate/)
    },
  },
  '20261130000100_billing_ledger': {
    async afterUp(db) {
      // A payment written before the ledger had statuses counts as succeeded; the new columns are there.
      await db('payments').insert({tenant_master_id: 1, amount_cents: 4900, currency: 'USD', paid_at: T0, created_at: T0, updated_at: T0})
      const [payment] = await db('payments').select('status', 'period_start', 'refund_of')
      expect(payment).toEqual({status: 'succeeded', period_start: null, refund_of: null})
      await db('payments').delete()
      for (const [table, column] of [
        ['billing_events', 'changes'],
        ['billing_events', 'recorded_at'],
        ['tenant_billing', 'version'],
        ['tenant_billing', 'discount_percent_bp'],
      ] as const)
        expect(await db.schema.hasColumn(table, column)).toBe(true)
    },
    async afterDown(db) {
      for (const [table, column] of [
        ['billing_events', 'changes'],
        ['tenant_billing', 'version'],
        ['payments', 'status'],
        ['payments', 'refund_of'],
      ] as const)
        expect(await db.schema.hasColumn(table, column)).toBe(false)
      expect(await db.schema.hasColumn('payments', 'amount_cents')).toBe(true)
    },
  },
  '20261130000200_billing_status_schedule': {
    async afterUp(db) {
      // A row written before the column existed has no schedule (read from its dates); a new one keeps it.
      await db('tenant_billing').insert({tenant_master_id: 1, status: 'active', mrr_cents: 4900, currency: 'USD', created_at: T0, updated_at: T0})
      expect(await db('tenant_billing').select('status', 'status_schedule')).toEqual([{status: 'active', status_schedule: null}])
      const schedule = '{"base":[[1767225600000,"active"]],"unpaidFrom":null,"late":[]}'
      await db('tenant_billing').update({status_schedule: schedule})
      expect(await db('tenant_billing').select('status_schedule')).toEqual([{status_schedule: schedule}])
      await db('tenant_billing').delete()
    },
    async afterDown(db) {
      expect(await db.schema.hasColumn('tenant_billing', 'status_schedule')).toBe(false)
      expect(await db.schema.hasColumn('tenant_billing', 'paid_through')).toBe(true)
    },
  },
  '20261130000300_money_bigint': {
    async afterUp(db) {
      const prices = async () => (await db('subscription_plans').orderBy('code').select('code', 'price_cents')).map((r) => [r.code, toMinor(r.price_cents)])
      expect(await prices()).toEqual([
        ['legacy', 900],
        ['pro-yearly', 49900],
      ])
      // The largest amount raiops bills (10^15 minor units) in every money column, read back exactly as a number.
      const big = 1_000_000_000_000_000
      await db('subscription_plans').where({code: 'pro-yearly'}).update({price_cents: big, unit_price_minor: big})
      await db('tenant_billing').insert({tenant_master_id: 1, status: 'active', mrr_cents: big, currency: 'USD', created_at: T0, updated_at: T0})
      await db('billing_events').insert({tenant_master_id: 1, type: 'set', mrr_cents: big, mrr_delta_cents: -big, effective_at: T0, created_at: T0})
      await db('payments').insert({tenant_master_id: 1, amount_cents: big, currency: 'USD', paid_at: T0, created_at: T0, updated_at: T0})
      const [plan] = await db('subscription_plans').where({code: 'pro-yearly'}).select('price_cents', 'unit_price_minor')
      const [billing] = await db('tenant_billing').select('mrr_cents')
      const [event] = await db('billing_events').select('mrr_cents', 'mrr_delta_cents')
      const [payment] = await db('payments').select('amount_cents')
      expect([plan.price_cents, plan.unit_price_minor, billing.mrr_cents, event.mrr_cents, event.mrr_delta_cents, payment.amount_cents].map(toMinor)).toEqual([
        big,
        big,
        big,
        big,
        -big,
        big,
      ])
      // Rolling back while an amount does not fit 32 bits is refused (SQLite's INTEGER is 64-bit either way: nothing to roll back).
      if (db.client.config.client !== 'better-sqlite3')
        await expect(db.migrate.down(migratorConfig)).rejects.toThrow(/row\(s\) of subscription_plans\.price_cents do not fit a 32-bit integer/)
      await db('subscription_plans').where({code: 'pro-yearly'}).update({price_cents: 49900, unit_price_minor: null})
      for (const table of ['payments', 'billing_events', 'tenant_billing']) await db(table).delete()
    },
    async afterDown(db) {
      expect((await db('subscription_plans').orderBy('code').select('price_cents')).map((r) => toMinor(r.price_cents))).toEqual([900, 49900])
      if (db.client.config.client !== 'better-sqlite3') {
        const tooBig = db('payments').insert({tenant_master_id: 1, amount_cents: 3_000_000_000, currency: 'USD', paid_at: T0, created_at: T0, updated_at: T0})
        await expect(tooBig).rejects.toThrow(/range/i)
      }
    },
  },
  '20261201000000_jobs': {
    async afterUp(db) {
      // In a database whose permissions are seeded, the job permissions exist and the system_admin role (seeded above; read_only is not) holds both.
      expect(
        await db('raiops_role_permissions')
          .where({role: 'system_admin'})
          .whereIn('permission', ['jobs.view', 'jobs.manage'])
          .orderBy('permission')
          .pluck('permission'),
      ).toEqual(['jobs.manage', 'jobs.view'])
      const job = {kind: 'test.kind', input: '{}', state: 'queued' as const, created_by: 'ops@example.com', run_after: T0, created_at: T0, updated_at: T0}
      await db('jobs').insert(job)
      const [{id}] = await db('jobs').select('id')
      await db('job_steps').insert({job_id: id, position: 0, name: 'first', state: 'pending' as const, updated_at: T0})
      await expect(db('job_steps').insert({job_id: id, position: 0, name: 'again', state: 'pending' as const, updated_at: T0})).rejects.toThrow(
        /unique|UNIQUE|Duplicate/,
      )
      const [step] = await db('job_steps').select('name', 'attempts', 'retries', 'output')
      expect({...step, attempts: Number(step.attempts), retries: Number(step.retries)}).toEqual({name: 'first', attempts: 0, retries: 0, output: null})
    },
    async afterDown(db) {
      expect(await db.schema.hasTable('jobs')).toBe(false)
      expect(await db.schema.hasTable('job_steps')).toBe(false)
      expect(await db('raiops_permissions').whereIn('name', ['jobs.view', 'jobs.manage']).pluck('name')).toEqual([])
    },
  },
  '20261201000100_placement': {
    async afterUp(db) {
      // An open reservation names its tenant once per RDS; closed ones (name_key NULL) never collide.
      const row = {job_id: 1, rds_instance_id: 1, tenant_name: 'Acme', name_key: 'acme', created_at: T0}
      await db('placement_reservations').insert(row)
      await expect(db('placement_reservations').insert({...row, job_id: 2})).rejects.toThrow(/unique|UNIQUE|Duplicate/)
      await db('placement_reservations').insert({...row, job_id: 3, name_key: null})
      await db('placement_reservations').insert({...row, job_id: 4, name_key: null})
      expect(Number((await db('placement_reservations').count({n: '*'}))[0].n)).toBe(3)
      await db('placement_reservations').delete()
    },
    async afterDown(db) {
      expect(await db.schema.hasTable('placement_reservations')).toBe(false)
    },
  },
  '20261201000200_job_step_audit': {
    async afterUp(db) {
      // A step done before it was audited as it was recorded: it reads as audited at its finish; a pending one is not.
      const job = {kind: 'test.kind', input: '{}', state: 'running' as const, created_by: 'ops@example.com', run_after: T0, created_at: T0, updated_at: T0}
      await db('jobs').insert(job)
      const [{id}] = await db('jobs').select('id')
      await db('job_steps').insert([
        {job_id: id, position: 0, name: 'first', state: 'done' as const, finished_at: T1, updated_at: T1},
        {job_id: id, position: 1, name: 'second', state: 'pending' as const, updated_at: T1},
      ])
      expect((await db('job_steps').orderBy('position').select('audited_at')).map((r) => r.audited_at)).toEqual([null, null])
      await db.migrate.down(migratorConfig)
      await db.migrate.up(migratorConfig)
      const rows = await db('job_steps').orderBy('position').select('audited_at')
      expect(rows.map((r) => (r.audited_at === null ? null : new Date(r.audited_at as unknown as string).getTime()))).toEqual([T1.getTime(), null])
      await db('job_steps').delete()
      await db('jobs').delete()
    },
    async afterDown(db) {
      expect(await db.schema.hasColumn('job_steps', 'audited_at')).toBe(false)
    },
  },
  '20261202000000_alerts': {
    async afterUp(db) {
      // The alert permissions exist and system_admin (seeded above) holds every one of them.
      expect(
        await db('raiops_role_permissions').where({role: 'system_admin'}).where('permission', 'like', 'alerts.%').orderBy('permission').pluck('permission'),
      ).toEqual(['alerts.manage-rules', 'alerts.manage-subscriptions', 'alerts.run', 'alerts.silence', 'alerts.view'])
      const rule = {
        name: 'rds-down',
        kind: 'rds_down',
        params: '{}',
        severity: 'critical' as const,
        labels: '{}',
        no_data: 'ok' as const,
        on_error: 'error' as const,
        created_by: 'system',
        created_at: T0,
        updated_at: T0,
      }
      await db('alert_rules').insert(rule)
      await expect(db('alert_rules').insert(rule)).rejects.toThrow(/unique|UNIQUE|Duplicate/)
      const [{id}] = await db('alert_rules').select('id')
      const instance = {
        rule_id: id,
        fingerprint: 'f'.repeat(64),
        labels: '{"rds":"eu-2"}',
        state: 'pending' as const,
        last_eval_at: T0,
        created_at: T0,
        updated_at: T0,
      }
      await db('alert_instances').insert(instance)
      await expect(db('alert_instances').insert(instance)).rejects.toThrow(/unique|UNIQUE|Duplicate/)
      const note = {
        key: 'k1',
        channel: 'webhook' as const,
        target: 'http://127.0.0.1:9/',
        rule_id: id,
        kind: 'firing' as const,
        payload: '{}',
        state: 'pending' as const,
        created_at: T0,
        next_attempt_at: T0,
      }
      await db('alert_notifications').insert(note)
      await expect(db('alert_notifications').insert(note)).rejects.toThrow(/unique|UNIQUE|Duplicate/)
      // A rule's instances go with it.
      await db('alert_notifications').delete()
      await db('alert_rules').delete()
      expect(Number((await db('alert_instances').count({n: '*'}))[0].n)).toBe(0)
    },
    async afterDown(db) {
      for (const table of ['alert_rules', 'alert_instances', 'alert_transitions', 'alert_notifications', 'alert_silences', 'alert_subscriptions', 'alert_runs'])
        expect(await db.schema.hasTable(table)).toBe(false)
      expect(await db('raiops_permissions').where('name', 'like', 'alerts.%').pluck('name')).toEqual([])
    },
  },
}

it('every migration in migrations/ has a data case here', () => {
  expect(migrations.map((m) => m.name)).toEqual(Object.keys(CASES))
})

describe.each(CONTROL_ENGINES)('migrations on %s keep the data, one step up and one step down', (engine) => {
  let control: TestControlDb
  beforeAll(async () => {
    control = await createControlDb(engine, {migrate: false})
  })
  afterAll(async () => {
    await control?.drop()
  })

  const applied = async () => ((await control.db.migrate.list(migratorConfig)) as [Array<{name: string}>, unknown])[0].map((m) => m.name)

  // One case per migration, in order: each starts where the one before left the database (that migration applied).
  it.each(migrations.map((m, index) => [m.name, index] as const))('%s', async (name, index) => {
    const db = control.db
    const seeded = index > 0
    if (seeded) expect(await seededRows(db)).toEqual(SEEDED)

    // Given the migrations before it, with rows written; when it is applied alone:
    await db.migrate.up(migratorConfig)
    expect(await applied()).toEqual(migrations.slice(0, index + 1).map((m) => m.name))
    // then it did its work and every row is still there.
    await CASES[name].afterUp(db)
    expect(await seededRows(db)).toEqual(SEEDED)

    // When it is rolled back alone: its work is undone and the rows are still there.
    await db.migrate.down(migratorConfig)
    expect(await applied()).toEqual(migrations.slice(0, index).map((m) => m.name))
    await CASES[name].afterDown(db)
    if (seeded) expect(await seededRows(db)).toEqual(SEEDED)

    // And it applies again over the rolled-back database, for the next migration to start from.
    await db.migrate.up(migratorConfig)
    if (index === 0) await seedRows(db)
    expect(await seededRows(db)).toEqual(SEEDED)
  })
})
