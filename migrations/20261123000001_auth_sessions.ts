import type {Knex} from 'knex'

/**
 * Operator sessions, one row per sign-in: a session file is honoured only while
 * its row exists, is not revoked and has not expired. Signing out, a new
 * password or disabling the operator revokes them at once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('auth_sessions', (table) => {
    table.string('jti', 64).primary()
    table.integer('operator_id').unsigned().notNullable().references('id').inTable('operators').onDelete('CASCADE')
    table.string('host', 255)
    table.datetime('issued_at', {precision: 3}).notNullable()
    table.datetime('expires_at', {precision: 3}).notNullable()
    table.datetime('revoked_at', {precision: 3})
    table.index(['operator_id'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('auth_sessions')
}
