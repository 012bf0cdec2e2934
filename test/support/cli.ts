import Database from 'better-sqlite3'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = join(root, 'bin', 'run.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  /** Written to the command's standard input, then closed. */
  input?: string
  cwd?: string
  timeoutMs?: number
}

/**
 * The environment a command under test gets: the test's own, without colour,
 * with `extra` over it (an `undefined` there unsets the variable).
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, NO_COLOR: '1', CI: '1', ...extra})) if (v !== undefined) env[k] = v
  // An inherited FORCE_COLOR would colour every test's output; one the test passes is kept.
  delete env.FORCE_COLOR
  if (extra.FORCE_COLOR !== undefined) env.FORCE_COLOR = extra.FORCE_COLOR
  // A token exported in the developer's shell would decide who every test runs as.
  if (extra.RAIOPS_TOKEN === undefined) delete env.RAIOPS_TOKEN
  // vitest sets NODE_ENV=test, which puts oclif in development mode (extra warnings): run as a user would.
  delete env.NODE_ENV
  return env
}

/** Where bin/run.js is: for a test that starts the CLI itself (in the background, to signal it). */
export const CLI_BIN = bin

/**
 * Runs the built CLI (bin/run.js) as a user would, in a child process, and
 * returns its exit code and output. `npm test` builds first.
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  if (!existsSync(join(root, 'dist'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? root,
      env: cliEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`raiops ${args.join(' ')} did not exit within ${options.timeoutMs ?? 30000} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, ms: Date.now() - started})
    })
    child.stdin.end(options.input ?? '')
  })
}

/** A character that must not reach a terminal raw from human output: a control (but the newline that ends a line), a line separator, a bidirectional override. */
// eslint-disable-next-line no-control-regex
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

/** `rds:add` for a MariaDB RDS on loopback, its password read from stdin. */
export function mysqlRdsAddArgs(options: {name: string; port: number; user: string; database: string; extra?: string[]}): string[] {
  return [
    'rds:add',
    '--name',
    options.name,
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--username',
    options.user,
    '--password-stdin',
    '--rai-database',
    options.database,
    ...(options.extra ?? []),
  ]
}

/** Rows of a read-only query on the SQLite control database of a RAIOPS_HOME. */
export function queryControlDb<T>(raiopsHome: string, sql: string): T[] {
  const db = new Database(join(raiopsHome, 'raiops.sqlite'), {readonly: true})
  try {
    return db.prepare(sql).all() as T[]
  } finally {
    db.close()
  }
}
