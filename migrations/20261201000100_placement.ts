import type {Knex} from 'knex'

/**
 * Placement reservations (lib/placement): a slot on an RDS taken by a
 * tenant-creation job before it writes anything there, so that two creations
 * at once never both take the last free slot of a server. A reservation is
 * open (it counts against the server's capacity, beside its tenant_master rows)
 * until the job registers the tenant (`tenant_master_id` set) or is canceled
 * (`released_at` set). `name_key` (the tenant name, lower-cased) is set only
 * while it is open: unique with the RDS, so two jobs cannot create the same
 * name on one server at once (NULLs never collide, on every engine).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('placement_reservations', (table) => {
    table.increments('id').primary()
    table.integer('job_id').unsigned().notNullable().unique()
    table.integer('rds_instance_id').unsigned().notNullable().references('id').inTable('rds_instances').onDelete('CASCADE')
    table.string('tenant_name', 255).notNullable()
    table.string('name_key', 255)
    table.integer('tenant_master_id').unsigned()
    table.datetime('created_at', {precision: 3}).notNullable()
    table.datetime('released_at', {precision: 3})
    table.unique(['rds_instance_id', 'name_key'], {indexName: 'placement_reservations_rds_name_unique'})
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('placement_reservations')
}
