import type {Knex} from 'knex'

/**
 * When keys:prune took a master key out of the key file: a retired key never
 * encrypts again, so a process still holding an old keyring cannot write a
 * secret that the key file no longer opens.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('raiops_keys', (table) => {
    table.datetime('retired_at', {precision: 3})
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('raiops_keys', (table) => {
    table.dropColumn('retired_at')
  })
}
