import type {ChalkInstance} from 'chalk'

import type {CheckpointFile} from '../../lib/audit/checkpoint.js'
import type {AuditChange, AuditView} from '../../lib/audit/read.js'
import type {TailEvent} from '../../lib/audit/tail.js'
import type {ChainVerification} from '../../lib/audit/verify.js'
import {ago} from '../../lib/text/age.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {accessLogLine, WEBHOOK_PATH, type RequestLog} from '../../lib/webhook/server.js'
import {renderCells, type Column} from '../output/render.js'

const target = (row: AuditView): string => (row.targetType ? `${row.targetType}${row.targetId === null ? '' : `:${row.targetId}`}` : '')

export function auditColumns(c: ChalkInstance): Column<AuditView>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'when', cell: (r, f) => f.time(r.occurredAt), plain: (r) => r.occurredAt},
    {
      header: 'actor',
      cell: (r) => `${c.dim(`${r.actorType}:`)}${r.actor}`,
      plain: (r) => `${r.actorType}:${r.actor}`,
      overflow: 'truncate',
      minWidth: 24,
    },
    {header: 'action', cell: (r) => r.action, overflow: 'truncate', minWidth: 16},
    {header: 'target', cell: target, plain: (r) => target(r) || null, overflow: 'truncate', minWidth: 14, priority: 2},
    {header: 'rds', cell: (r) => (r.rdsInstanceId === null ? '' : String(r.rdsInstanceId)), plain: (r) => r.rdsInstanceId, priority: 3},
    {header: 'tenant', cell: (r) => (r.tenantMasterId === null ? '' : String(r.tenantMasterId)), plain: (r) => r.tenantMasterId, priority: 3},
  ]
}

/** A value on one line: a string as it is, anything else as JSON, either escaped for the terminal. */
const shown = (value: unknown): string =>
  value === null || value === undefined ? '∅' : escapeControl(typeof value === 'string' ? value : JSON.stringify(value))

/**
 * An entry's fields, then its change as a diff: `-` the old value, `+` the new
 * one; a secret's change as `password: changed (redacted)`. Every value from the
 * entry is escaped: an action or an id sent with a newline or an escape sequence
 * shows as `\n` or `\u001b`.
 */
export function renderAuditEntry(c: ChalkInstance, shownEntry: AuditView & {changes: AuditChange[]}, now: Date): string {
  const {changes, ...fields} = shownEntry
  const entry = escapeControlDeep(fields)
  const lines = [
    `${c.bold(`Audit entry ${entry.id}`)} ${c.dim(`(sequence ${entry.seq})`)}`,
    `  When     ${entry.occurredAt} (${ago(entry.occurredAt, now)})`,
    `  Actor    ${entry.actorType}:${entry.actor}`,
    `  Action   ${entry.action}`,
  ]
  if (entry.targetType) lines.push(`  Target   ${target(entry)}`)
  if (entry.rdsInstanceId !== null) lines.push(`  RDS      ${entry.rdsInstanceId}`)
  if (entry.tenantMasterId !== null) lines.push(`  Tenant   ${entry.tenantMasterId}`)
  if (entry.source.host) lines.push(`  Host     ${entry.source.host}${entry.source.ip ? ` (${entry.source.ip})` : ''}`)
  if (entry.source.command) lines.push(`  Command  ${entry.source.command}`)
  lines.push('')
  if (changes.length === 0) lines.push(c.dim(entry.oldValues === null && entry.newValues === null ? '  no values recorded' : '  no field changed'))
  for (const change of changes) {
    if (change.redacted) {
      lines.push(`  ${escapeControl(change.field)}: changed ${c.dim('(redacted)')}`)
      continue
    }
    lines.push(`  ${escapeControl(change.field)}`)
    if (change.old !== null) lines.push(c.red(`    - ${shown(change.old)}`))
    if (change.new !== null) lines.push(c.green(`    + ${shown(change.new)}`))
  }
  return `${lines.join('\n')}\n`
}

/** The chain's verdict on one line: intact with its head, or where it breaks and why. */
export function renderVerification(c: ChalkInstance, result: ChainVerification, checkpoints: number): string {
  return result.ok
    ? `${c.green('intact')}: ${result.entries} entries, head sequence ${result.headSeq} (${result.headHash.slice(0, 16)}…)${checkpoints > 0 ? `, ${checkpoints} checkpoint(s) verified` : ''}\n`
    : `${c.red('broken')} at sequence ${result.firstBad?.seq}${result.firstBad?.id === null || result.firstBad?.id === undefined ? '' : ` (entry ${result.firstBad.id})`}: ${escapeControl(result.firstBad?.reason ?? '')}\n`
}

/** What `audit:tail` prints for one event: entries on stdout (a header first, or NDJSON under --json), connection notices on stderr (also under --json). */
export interface TailOutput {
  stdout?: string
  stderr?: string
}

/** `audit:tail`'s renderer, event by event; `view` masks an entry as the caller may see it. */
export function tailRenderer(
  c: ChalkInstance,
  options: {json: boolean; maxRetries: number; now: () => Date; view: (entry: AuditView) => AuditView},
): (event: TailEvent) => TailOutput {
  const columns = auditColumns(c)
  // A stream, not a table: each entry with its exact time, and how long ago it was, read against the clock when it is printed (a followed entry lands long after the start).
  const format = {time: (iso: string) => `${iso.slice(0, 19).replace('T', ' ')} ${c.dim(`(${ago(iso, options.now())})`)}`}
  const line = (values: string[]) => values.join('  ')
  let header = false
  return (event) => {
    if (event.type === 'disconnected') {
      const retry = Math.round(event.retryInMs / 100) / 10
      return {
        stderr: `control database unreachable (attempt ${event.attempt} of ${options.maxRetries}): ${escapeControl(event.error)}; retrying in ${retry} s\n`,
      }
    }
    if (event.type === 'reconnected') return {stderr: `control database reachable again after ${event.failures} failed attempt(s)\n`}
    const entry = options.view(event.entry)
    if (options.json) return {stdout: `${JSON.stringify(entry)}\n`}
    const head = header ? '' : `${c.dim(line(columns.map((col) => col.header)))}\n`
    header = true
    return {stdout: `${head}${line(renderCells(entry, columns, format))}\n`}
  }
}

/** Prints `audit:tail`'s events as they come (see `tailRenderer`): entries on stdout, the connection's state on stderr. */
export async function printTail(events: AsyncIterable<TailEvent>, render: (event: TailEvent) => TailOutput): Promise<void> {
  for await (const event of events) {
    const {stdout, stderr} = render(event)
    if (stderr) process.stderr.write(stderr)
    if (stdout) process.stdout.write(stdout)
  }
}

/** `audit:serve`'s access log, a line on stdout per request: NDJSON under --json; nothing for an accepted request under --quiet. */
export function accessLog(options: {json: boolean; quiet: boolean}): (entry: RequestLog) => void {
  return (entry) => {
    if (options.quiet && entry.status < 400) return
    const at = new Date()
    process.stdout.write(`${options.json ? JSON.stringify({at: at.toISOString(), ...entry}) : accessLogLine(at, entry)}\n`)
  }
}

/** `listening on http://127.0.0.1:8787/webhook (2 secret(s), tolerance 300 s)`, for stderr. */
export function listeningLine(url: string, secrets: number, toleranceS: number): string {
  return `listening on ${escapeControl(url)}${WEBHOOK_PATH} (${secrets} secret(s), tolerance ${toleranceS} s); Ctrl-C or SIGTERM to stop\n`
}

/** The warning that audit:checkpoint created its signing key. */
export const signingKeyCreated = (keyFile: string): string =>
  `created the checkpoint signing key ${keyFile} (public key: ${keyFile}.pub); keep it off the database host`

/** What audit:checkpoint signed and where it went (`toStdout`: the checkpoint itself is on stdout). */
export function checkpointSummary(checkpoint: CheckpointFile, output: string, toStdout: boolean): string {
  return `checkpoint of sequence ${checkpoint.seq} (${checkpoint.hash.slice(0, 16)}…) signed by key ${escapeControl(checkpoint.kid)}, written to ${toStdout ? 'standard output' : escapeControl(output)}\n`
}
