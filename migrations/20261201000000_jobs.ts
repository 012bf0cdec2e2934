import type {Knex} from 'knex'

/**
 * Resumable jobs (lib/jobs): a `jobs` row per job and a `job_steps` row per
 * step of its kind, in order. A worker claims a job with one conditional
 * UPDATE on `jobs` (state, run_after, lease_expires_at) and holds it with a
 * heartbeat (locked_by, lease_expires_at, heartbeat_at). A step's output and
 * checkpoint are JSON text. tenant_name, tenant_master_id and rds_instance_id
 * are what a kind says the job concerns, for filtering.
 *
 * Also the permissions of the `job:*` commands, in a control database whose
 * permissions are already seeded, granted as the built-in roles have them
 * (system_admin both, read_only jobs.view) when those roles exist.
 */

const PERMISSIONS = [
  {name: 'jobs.view', description: 'list and inspect jobs'},
  {name: 'jobs.manage', description: 'run, retry and cancel jobs'},
]
const GRANTS = [
  {role: 'system_admin', permission: 'jobs.view'},
  {role: 'system_admin', permission: 'jobs.manage'},
  {role: 'read_only', permission: 'jobs.view'},
]

function at(table: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return table.datetime(name, {precision: 3})
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('jobs', (table) => {
    table.increments('id')
    table.string('kind', 64).notNullable()
    table.text('input').notNullable()
    table.string('state', 16).notNullable()
    table.integer('attempts').notNullable().defaultTo(0)
    table.string('created_by', 255).notNullable()
    table.string('tenant_name', 255)
    table.integer('tenant_master_id').unsigned()
    table.integer('rds_instance_id').unsigned()
    table.text('error')
    /** Why it failed: `transient` (a server could not be reached: retry once it is back) or `permanent`. */
    table.string('error_kind', 16)
    at(table, 'run_after').notNullable()
    table.string('locked_by', 255)
    at(table, 'lease_expires_at')
    at(table, 'heartbeat_at')
    at(table, 'created_at').notNullable()
    at(table, 'updated_at').notNullable()
    at(table, 'started_at')
    at(table, 'finished_at')
    table.index(['state', 'run_after'], 'jobs_state_run_after_index')
    table.index(['kind'], 'jobs_kind_index')
    table.index(['tenant_name'], 'jobs_tenant_name_index')
  })
  await knex.schema.createTable('job_steps', (table) => {
    table.increments('id')
    table.integer('job_id').unsigned().notNullable().references('id').inTable('jobs').onDelete('CASCADE')
    table.integer('position').notNullable()
    table.string('name', 64).notNullable()
    table.string('state', 16).notNullable()
    table.integer('attempts').notNullable().defaultTo(0)
    /** Transient failures in a row since the step last succeeded or the job was retried: what the retry limit counts. */
    table.integer('retries').notNullable().defaultTo(0)
    at(table, 'started_at')
    at(table, 'finished_at')
    table.text('output')
    table.text('checkpoint')
    table.text('error')
    at(table, 'updated_at').notNullable()
    table.unique(['job_id', 'position'], {indexName: 'job_steps_job_position_unique'})
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
  await knex.schema.dropTable('job_steps')
  await knex.schema.dropTable('jobs')
}
