import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {z} from 'zod'

import {UserError} from '../errors/index.js'
import {writeFileAtomic} from '../files/atomic.js'
import {DEMO_SIZES} from './fleet.js'

/**
 * The demo's directory and its marker. The marker is the demo's claim on the
 * directory: raiops writes it before anything else and deletes only what holds
 * it, so `--reset` can never remove a directory raiops did not create. While a
 * build runs the marker says `building`; a build that was interrupted leaves it
 * so, and the next run says the demo is incomplete.
 */

export const DEMO_MARKER = '.raiops-demo.json'

const markerSchema = z.object({
  raiops: z.literal('demo'),
  version: z.literal(1),
  state: z.enum(['building', 'complete']),
  size: z.enum(DEMO_SIZES),
  seed: z.number().int(),
  startedAt: z.string(),
  completedAt: z.string().nullable(),
  /** The process that builds it, so a second run can tell a build in progress from an interrupted one. */
  builder: z.object({host: z.string(), pid: z.number().int()}),
})
export type DemoMarker = z.infer<typeof markerSchema>

export type DemoDirState = {kind: 'absent'} | {kind: 'empty'} | {kind: 'demo'; marker: DemoMarker}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'error'
}

function unusable(dir: string, reason: string): UserError {
  return new UserError(`--dir ${dir} ${reason}`, {
    hint: 'choose another --dir: raiops demo only writes into a new or empty directory, or one holding a demo',
  })
}

export function readMarker(dir: string): DemoMarker | null {
  let text: string
  try {
    text = readFileSync(join(dir, DEMO_MARKER), 'utf8')
  } catch {
    return null
  }
  try {
    const parsed = markerSchema.safeParse(JSON.parse(text))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** What `dir` holds; a file, an unreadable place or a non-empty directory without a demo marker is refused (exit 2). */
export function inspectDemoDir(dir: string): DemoDirState {
  let isDirectory: boolean
  try {
    isDirectory = statSync(dir).isDirectory()
  } catch (error) {
    if (code(error) === 'ENOENT') return {kind: 'absent'}
    throw unusable(dir, `cannot be read (${code(error)})`)
  }
  if (!isDirectory) throw unusable(dir, 'is a file, not a directory')
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch (error) {
    throw unusable(dir, `cannot be read (${code(error)})`)
  }
  // A marker's temporary file alone: a build stopped before it claimed the directory.
  if (entries.every(isMarkerTemporary)) {
    for (const entry of entries) rmSync(join(dir, entry), {force: true})
    return {kind: 'empty'}
  }
  const marker = readMarker(dir)
  if (!marker) throw unusable(dir, 'is not empty and holds no raiops demo (nothing was changed)')
  return {kind: 'demo', marker}
}

/** What a demo build creates in its directory: only these are ever deleted. */
export const DEMO_ENTRIES = ['home', 'fleet'] as const

/** The marker's temporary file, left when a build stops between writing and renaming it. */
const isMarkerTemporary = (entry: string): boolean => entry.startsWith(`.${DEMO_MARKER}.`) && entry.endsWith('.tmp')

/**
 * Deletes the demo in `dir`: the entries a build creates and the marker (the
 * directory itself stays). Anything else in the directory is someone else's and
 * is left alone. Refused unless the directory holds a demo marker.
 * Returns the names of the entries left in place.
 */
export function clearDemoDir(dir: string): string[] {
  if (!readMarker(dir)) throw unusable(dir, 'holds no raiops demo: it is not deleted')
  const others: string[] = []
  for (const entry of readdirSync(dir)) {
    if ((DEMO_ENTRIES as readonly string[]).includes(entry) || isMarkerTemporary(entry)) rmSync(join(dir, entry), {recursive: true, force: true})
    else if (entry !== DEMO_MARKER) others.push(entry)
  }
  // The marker goes last: a clean-up that stops half-way still leaves a directory --reset may clear.
  rmSync(join(dir, DEMO_MARKER), {force: true})
  return others
}

/**
 * Creates `dir` and the parents it lacks, one level at a time: a recursive
 * mkdir can spin forever on a place where nothing may be created (as /proc).
 */
function makeDirectories(dir: string): void {
  const missing: string[] = []
  for (let at = dir; !existsSync(at); at = dirname(at)) {
    missing.unshift(at)
    if (dirname(at) === at) break
  }
  for (const level of missing) mkdirSync(level, {mode: 0o700})
}

/** Creates the directory (if needed) and claims it with a `building` marker. */
export function claimDemoDir(dir: string, marker: DemoMarker): void {
  try {
    makeDirectories(dir)
    writeMarker(dir, marker)
  } catch (error) {
    throw unusable(dir, `cannot be written (${code(error)})`)
  }
}

export function writeMarker(dir: string, marker: DemoMarker): void {
  writeFileAtomic(join(dir, DEMO_MARKER), `${JSON.stringify(marker, null, 2)}\n`, 0o600)
}
