import {Args, Flags} from '@oclif/core'

import {JOB_STATES} from '../../lib/jobs/store.js'

/** The job id argument of job:show, job:retry and job:cancel (checked by the service: a positive number, else exit 2). */
export const jobArg = Args.string({name: 'ID', description: 'job id (see job:list)', required: true})

export const jobListFilterFlags = {
  state: Flags.option({options: JOB_STATES, description: 'only jobs in this state'})(),
  kind: Flags.string({description: 'only jobs of this kind, as tenant.create'}),
  tenant: Flags.string({description: 'only jobs concerning this tenant (by name)'}),
  limit: Flags.integer({description: 'at most this many jobs, newest first', default: 50, min: 1, max: 1000}),
}

export const jobWorkFlags = {
  once: Flags.boolean({description: 'run the jobs that can run now (queued and due, or abandoned by a dead worker), then exit'}),
  concurrency: Flags.integer({description: 'jobs run at the same time', default: 1, min: 1, max: 32}),
  poll: Flags.integer({description: 'seconds between looks for new jobs while idle', default: 2, min: 1, max: 3600}),
}
