import type {Knex} from 'knex'

/**
 * The support ticket an impersonation link was issued for, beside its reason:
 * both are in the signed link and in the audit trail, and kept with the link's
 * row so `impersonations` alone answers who opened which tenant, when and why.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('impersonations', (table) => {
    table.string('ticket', 128)
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('impersonations', (table) => {
    table.dropColumn('ticket')
  })
}
