import type {ChalkInstance} from 'chalk'

import type {JobEvent, JobListItem, JobState, JobStepView, JobView, StepState, WorkerReport} from '../../lib/jobs/index.js'
import {escapeControl} from '../../lib/text/escape.js'
import {paint, type Tone} from '../output/color.js'
import {renderRecord, type Column} from '../output/render.js'

const JOB_TONES: Record<JobState, Tone | undefined> = {queued: 'dim', running: undefined, failed: 'fail', canceling: 'warn', canceled: 'dim', done: 'ok'}
const STEP_TONES: Record<StepState, Tone | undefined> = {
  pending: 'dim',
  running: undefined,
  done: 'ok',
  failed: 'fail',
  compensating: 'warn',
  compensated: 'dim',
}

export const colourJobState = (c: ChalkInstance, state: JobState): string => paint(c, JOB_TONES[state], state)

export function jobColumns(c: ChalkInstance): Column<JobListItem>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'kind', cell: (r) => r.kind},
    {header: 'state', cell: (r) => colourJobState(c, r.state), plain: (r) => r.state},
    {header: 'tenant', cell: (r) => r.tenantName ?? '', plain: (r) => r.tenantName, overflow: 'truncate', minWidth: 12},
    {header: 'step', cell: (r) => r.step ?? '', plain: (r) => r.step, overflow: 'truncate', priority: 2},
    {header: 'attempts', cell: (r) => String(r.attempts), plain: (r) => r.attempts, priority: 4},
    {header: 'created by', cell: (r) => r.createdBy, overflow: 'truncate', priority: 5},
    {header: 'created', cell: (r, f) => f.time(r.createdAt), plain: (r) => r.createdAt, priority: 3},
    {header: 'updated', cell: (r, f) => f.time(r.updatedAt), plain: (r) => r.updatedAt, priority: 3},
    {header: 'error', cell: (r) => (r.error ? c.red(r.error) : ''), plain: (r) => r.error, overflow: 'truncate', priority: 2},
  ]
}

const json = (value: unknown): string => escapeControl(JSON.stringify(value))

function seconds(from: string | null, to: string | null): string {
  if (from === null || to === null) return ''
  const ms = Date.parse(to) - Date.parse(from)
  return ` (${ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`})`
}

function stepLines(c: ChalkInstance, step: JobStepView, count: number): string[] {
  const head = `  ${step.position + 1}/${count} ${escapeControl(step.name)}  ${paint(c, STEP_TONES[step.state], step.state)}`
  const timing = step.startedAt ? `  ${step.startedAt}${step.finishedAt ? ` → ${step.finishedAt}${seconds(step.startedAt, step.finishedAt)}` : ''}` : ''
  const lines = [`${head}${step.attempts > 0 ? `  attempt ${step.attempts}` : ''}${timing}`]
  if (step.output) lines.push(`      output: ${json(step.output)}`)
  else if (step.checkpoint) lines.push(`      checkpoint: ${json(step.checkpoint)}`)
  if (step.error) lines.push(`      ${c.red(`error: ${escapeControl(step.error)}`)}`)
  return lines
}

/** job:show: the job's fields, its steps with their timing, outputs and errors, then what can be done next. */
export function renderJobShown(c: ChalkInstance, job: JobView): string {
  const record = renderRecord(job, (j) => [
    ['id', String(j.id)],
    ['kind', j.kind],
    ['state', colourJobState(c, j.state)],
    ...(j.tenantName ? ([['tenant', j.tenantName]] as Array<[string, string]>) : []),
    ['input', json(j.input)],
    ['created', `${j.createdAt} by ${j.createdBy}`],
    ['started', j.startedAt ?? c.dim('not yet')],
    ['finished', j.finishedAt ?? c.dim('not yet')],
    ['attempts', String(j.attempts)],
    ...(j.lockedBy ? ([['worker', `${j.lockedBy} (lease until ${j.leaseExpiresAt ?? '?'})`]] as Array<[string, string]>) : []),
    ...(j.error ? ([['error', c.red(j.error)]] as Array<[string, string]>) : []),
  ])
  const steps = ['steps:', ...job.steps.flatMap((s) => stepLines(c, s, job.steps.length))]
  const next = job.nextSteps.length > 0 ? ['next steps:', ...job.nextSteps.map((s) => `  ${escapeControl(s)}`)] : []
  return [record.trimEnd(), ...steps, ...next].join('\n') + '\n'
}

/** One line per step transition, for a job run in the foreground (`[2/5] create-database: done`). */
export function jobEventLine(c: ChalkInstance, event: JobEvent): string {
  const at = `[${event.position + 1}/${event.count}] ${escapeControl(event.step)}`
  switch (event.type) {
    case 'step.start':
      return `${at}: running${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`
    case 'step.done':
      return `${at}: ${c.green('done')}`
    case 'step.retry':
      return `${at}: ${c.yellow(`${escapeControl(event.error ?? 'failed')}; retrying in ${((event.delayMs ?? 0) / 1000).toFixed(1)} s`)}`
    case 'step.fail':
      return `${at}: ${c.red(`failed: ${escapeControl(event.error ?? '')}`)}`
    case 'step.compensate':
      return `${at}: undoing`
    case 'step.compensated':
      return `${at}: ${c.green('undone')}`
    case 'step.compensate-fail':
      return `${at}: ${c.red(escapeControl(event.error ?? 'compensation failed'))}`
  }
}

/** The last line of a job run in the foreground: its state and what to do next. */
export function jobEndLine(c: ChalkInstance, job: JobView): string {
  const head = `job ${job.id} (${job.kind}) ${colourJobState(c, job.state)}${job.error ? `: ${escapeControl(job.error)}` : ''}`
  return job.nextSteps.length > 0 ? `${head}\nnext: ${escapeControl(job.nextSteps[0])}` : head
}

/** job:work's summary line. */
export function workerSummaryLine(report: WorkerReport): string {
  const by = (outcome: string) => report.jobs.filter((j) => j.outcome === outcome).length
  const parts = [`${report.jobs.length} job(s) run`, `${by('done')} done`, `${by('failed')} failed`]
  if (by('interrupted') > 0) parts.push(`${by('interrupted')} back in the queue`)
  if (by('lost') > 0) parts.push(`${by('lost')} taken over by another worker`)
  if (by('error') > 0) parts.push(`${by('error')} stopped by an error`)
  return parts.join(', ')
}
