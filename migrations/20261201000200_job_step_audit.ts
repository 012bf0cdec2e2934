import type {Knex} from 'knex'

/**
 * `job_steps.audited_at`: when the step's `job.step.done` audit entry joined
 * the chain. A step is recorded done with one conditional statement; its entry
 * is appended with the others of its run in the transaction that ends the run
 * (done, failed, interrupted, canceled), which sets this column, so that a run
 * killed part-way leaves its done steps with a NULL here and the run that takes
 * the job over appends their entries (ARCHITECTURE.md, "Jobs"). Steps done
 * before this migration were audited as they were recorded: they get their
 * finished_at.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_steps', (table) => {
    table.datetime('audited_at', {precision: 3})
  })
  await knex('job_steps')
    .whereNotNull('finished_at')
    .whereIn('state', ['done', 'compensating', 'compensated'])
    .update({audited_at: knex.raw('??', ['finished_at'])})
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('job_steps', (table) => {
    table.dropColumn('audited_at')
  })
}
