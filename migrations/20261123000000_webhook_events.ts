import type {Knex} from 'knex'

/**
 * The ids of the audit events the RAI application has pushed, so a retried
 * delivery is acknowledged without being stored twice. Written in the same
 * transaction as the audit entry it produced.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_events', (table) => {
    table.string('event_id', 191).primary()
    table.integer('audit_log_id').unsigned().notNullable()
    table.datetime('received_at', {precision: 3}).notNullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_events')
}
