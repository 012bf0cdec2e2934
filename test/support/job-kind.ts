import knexFactory, {type Knex} from 'knex'

import {UserError} from '../../src/lib/errors/index.js'
import type {JobKind, JsonObject} from '../../src/lib/jobs/kind.js'
import {createTestDatabase, type TestDatabase} from './servers.js'

/**
 * A job kind for the runner's tests: three steps (`first`, `second`, `third`),
 * each writing one row, keyed by the job's name and the step, to a scratch
 * table on a real MariaDB database standing in for a fleet server. Each step
 * checkpoints its row's key (as `ref`: a field named `key` is redacted as a secret) before it writes, finds its row again on a re-run, and
 * its compensation deletes that row. `faults` makes a step fail: transiently
 * (a refused connection) a number of times, or permanently (a UserError).
 */

export const SCRATCH_KIND = 'test.scratch'
export const SCRATCH_STEPS = ['first', 'second', 'third'] as const
export type ScratchStep = (typeof SCRATCH_STEPS)[number]

export interface ScratchFaults {
  /** Transient failures still to come, by step. */
  transient: Partial<Record<ScratchStep, number>>
  permanent: Set<ScratchStep>
  /** Steps whose compensation fails. */
  compensation: Set<ScratchStep>
  /** Steps that wait for their signal to abort (a stop, a lost lease), then throw its reason. */
  block: Set<ScratchStep>
}

export interface ScratchCalls {
  /** Each run of a step, in order. */
  run: Array<{step: ScratchStep; attempt: number; previous: JsonObject | null}>
  /** Each compensation, in order, with the output it was given. */
  compensate: Array<{step: ScratchStep; output: JsonObject | null; previous: JsonObject | null}>
}

export const noFaults = (): ScratchFaults => ({transient: {}, permanent: new Set(), compensation: new Set(), block: new Set()})
export const noCalls = (): ScratchCalls => ({run: [], compensate: []})

/** What a driver throws when nothing listens at the server's address. */
export function refusedConnection(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port: 9})
}

export function scratchKind(scratch: Knex, faults: ScratchFaults = noFaults(), calls: ScratchCalls = noCalls()): JobKind<{name: string}> {
  const step = (name: ScratchStep) => ({
    name,
    async run({job, attempt, previous, checkpoint, signal}: Parameters<JobKind<{name: string}>['steps'][number]['run']>[0]): Promise<JsonObject> {
      calls.run.push({step: name, attempt, previous})
      if (faults.block.has(name)) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, {once: true}))
        throw signal.reason
      }
      if (faults.permanent.has(name)) throw new UserError(`${name} refused the input`)
      const transient = faults.transient[name] ?? 0
      if (transient > 0) {
        faults.transient[name] = transient - 1
        throw refusedConnection()
      }
      const key = `${job.input.name}:${name}`
      await checkpoint({ref: key})
      if ((await scratch('job_scratch').where({key}).first('id')) === undefined) await scratch('job_scratch').insert({key, step: name, job_id: job.id})
      const row = (await scratch('job_scratch').where({key}).first('id')) as {id: number}
      return {rowId: Number(row.id), ref: key}
    },
    async compensate({previous}: {previous: JsonObject | null}, output: JsonObject | null): Promise<void> {
      calls.compensate.push({step: name, output, previous})
      if (faults.compensation.has(name)) throw refusedConnection()
      const key = (output?.ref ?? previous?.ref ?? null) as string | null
      if (key !== null) await scratch('job_scratch').where({key}).delete()
    },
  })
  return {
    kind: SCRATCH_KIND,
    parseInput(raw: unknown): {name: string} {
      const name = (raw as {name?: unknown} | null)?.name
      if (typeof name !== 'string' || !/^[a-z][a-z0-9-]{0,40}$/.test(name))
        throw new UserError('a scratch job needs a name of lowercase letters, digits and dashes')
      return {name}
    },
    steps: SCRATCH_STEPS.map(step),
    describe: (input) => ({tenantName: input.name}),
  }
}

export interface ScratchDb {
  url: string
  db: Knex
  /** The scratch rows' keys, sorted. */
  keys(): Promise<string[]>
  drop(): Promise<void>
}

/** A MariaDB database with the scratch table. */
export async function createScratchDb(): Promise<ScratchDb> {
  const database: TestDatabase = await createTestDatabase('mysql', 'raiops_jobs')
  const db = openScratch(database.url)
  await db.schema.createTable('job_scratch', (table) => {
    table.increments('id')
    table.string('key', 128).notNullable().unique()
    table.string('step', 32).notNullable()
    table.integer('job_id').notNullable()
  })
  return {
    url: database.url,
    db,
    keys: async () => ((await db('job_scratch').orderBy('key').pluck('key')) as string[]).map(String),
    async drop() {
      await db.destroy()
      await database.drop()
    },
  }
}

export function openScratch(url: string): Knex {
  const quiet = () => undefined
  return knexFactory({client: 'mysql2', connection: url, pool: {min: 0, max: 4}, log: {warn: quiet, error: quiet, debug: quiet, deprecate: quiet}})
}
