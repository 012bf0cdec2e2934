import {tenantCreateKind} from '../provisioning/kind.js'
import type {JobKind, JsonObject} from './kind.js'

/** The kinds a runner knows, by name (jobs.kind). */
export type JobKindRegistry = ReadonlyMap<string, JobKind<JsonObject>>

/** A registry of the given kinds; a name given twice is a bug. */
export function jobKindRegistry(kinds: ReadonlyArray<JobKind<JsonObject>>): JobKindRegistry {
  const registry = new Map<string, JobKind<JsonObject>>()
  for (const kind of kinds) {
    if (registry.has(kind.kind)) throw new Error(`the job kind ${kind.kind} is registered twice`)
    registry.set(kind.kind, kind)
  }
  return registry
}

/**
 * Every kind of job raiops runs: a new kind is one line here. `job:work`,
 * `job:retry` and `job:cancel` find a job's steps through this list, so a job
 * whose kind is not in it is left alone (a worker of another raiops version may
 * know it).
 */
export const JOB_KINDS: JobKindRegistry = jobKindRegistry([tenantCreateKind as unknown as JobKind<JsonObject>])
