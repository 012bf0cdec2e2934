// What the benchmarks share: statistics, a log on stderr, clean-up on the way out
// (also on failure and Ctrl-C), and the CLI run as a user runs it.
import mysql from 'mysql2/promise'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {migrateLatest, openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {makeContext} from '../test/support/context.js'
import {createTestDatabase, mysqlServer} from '../test/support/servers.js'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const bin = join(root, 'bin', 'run.js')

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
export const ms1 = (n: number): number => Math.round(n * 10) / 10
export const ratio = (n: number): number => Math.round(n * 1000) / 1000
export const stats = (samples: number[]) => ({
  medianMs: ms1(median(samples)),
  minMs: ms1(Math.min(...samples)),
  maxMs: ms1(Math.max(...samples)),
  samplesMs: samples.map(ms1),
})

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e6
}

/** Progress on stderr, stamped with the time since the benchmark started. */
export function benchLog(name: string): (message: string) => void {
  const started = performance.now()
  return (message) => void process.stderr.write(`[${name} ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`)
}

// ---------------------------------------------------------------------------
// Clean-up: every database and directory is registered as soon as it exists and
// dropped on the way out, also on failure and on Ctrl-C / SIGTERM.

export const cleanups: Array<() => unknown> = []
const children = new Set<ChildProcess>()
let cleaning: Promise<void> | undefined

export function cleanup(log: (message: string) => void = () => {}): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) child.kill('SIGTERM')
    while (children.size > 0) await new Promise((resolve) => setTimeout(resolve, 50))
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch (error) {
        log(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  })()
  return cleaning
}

export function cleanUpOnSignals(log: (message: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`)
      void cleanup(log).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
    })
  }
}

// ---------------------------------------------------------------------------
// The CLI, as a user runs it: wall time from spawn to exit, and with `measureRss`
// the child's peak RSS.

/** GNU time reports the child's peak RSS exactly; without it, VmHWM is polled every 20 ms. */
export const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : null

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
  ms: number
  peakRssKb: number | null
}

export interface CliRunner {
  /** The environment of every run (set RAIOPS_DATABASE_URL on it). */
  env: NodeJS.ProcessEnv
  cli(args: string[], input?: string): Promise<CliRun>
  /** As cli, throwing unless the exit code is 0. */
  cliOk(args: string[], input?: string): Promise<CliRun>
}

export function cliRunner(home: string, options: {measureRss?: boolean} = {}): CliRunner {
  const env: NodeJS.ProcessEnv = {...process.env, RAIOPS_HOME: home, RAIOPS_DATABASE_URL: '', RAIOPS_MASTER_KEY: '', NO_COLOR: '1', CI: '1'}
  delete env.NODE_ENV
  delete env.FORCE_COLOR
  const timeBin = options.measureRss ? TIME_BIN : null
  let rssFiles = 0

  const cli = (args: string[], input = ''): Promise<CliRun> => {
    const rssFile = timeBin ? join(home, `rss-${++rssFiles}.txt`) : null
    const [command, argv] = timeBin && rssFile ? [timeBin, ['-f', '%M', '-o', rssFile, process.execPath, bin, ...args]] : [process.execPath, [bin, ...args]]
    return new Promise((resolve, reject) => {
      const started = process.hrtime.bigint()
      const child = spawn(command, argv, {cwd: root, env, stdio: ['pipe', 'pipe', 'pipe']})
      children.add(child)
      let stdout = ''
      let stderr = ''
      let polledKb = 0
      const poll =
        options.measureRss && !timeBin
          ? setInterval(() => {
              try {
                const match = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
                if (match) polledKb = Math.max(polledKb, Number(match[1]))
              } catch {
                // exited between two polls
              }
            }, 20)
          : undefined
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('error', (error) => {
        children.delete(child)
        clearInterval(poll)
        reject(error)
      })
      child.on('close', (code) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6
        children.delete(child)
        clearInterval(poll)
        let peakRssKb: number | null = polledKb || null
        if (rssFile && existsSync(rssFile)) {
          // "Command exited with non-zero status N" may come first: the figure is the last line.
          const last = readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)
          peakRssKb = last && /^\d+$/.test(last) ? Number(last) : null
        }
        resolve({code, stdout, stderr, ms, peakRssKb})
      })
      child.stdin.end(input)
    })
  }

  const cliOk = async (args: string[], input = ''): Promise<CliRun> => {
    const result = await cli(args, input)
    if (result.code !== 0) throw new Error(`raiops ${args.join(' ')} exited ${result.code}\n${result.stderr}${result.stdout}`)
    return result
  }

  return {env, cli, cliOk}
}

// ---------------------------------------------------------------------------
// The server's InnoDB buffer pool. A stock MariaDB starts with 128 MB, less than
// the benchmarks' data, so every figure (floors included) would measure the disk.
// The pool is resized online for the run (MariaDB 10.2+) and put back afterwards;
// `--buffer-pool-mb 0` leaves the server as it is.

export interface BufferPool {
  /** The size during the run, in MB. */
  mb: number
  /** The size before the run, in MB. */
  beforeMb: number
}

/** One statement on a connection of its own to the test MariaDB server (no database selected). */
export async function serverQuery(sql: string): Promise<Array<Record<string, unknown>>> {
  const conn = await mysql.createConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
  })
  try {
    return ((await conn.query(sql)) as unknown as [Array<Record<string, unknown>>])[0]
  } finally {
    await conn.end()
  }
}

export async function sizeBufferPool(
  query: (sql: string) => Promise<Array<Record<string, unknown>>>,
  wantedMb: number,
  log: (message: string) => void,
): Promise<BufferPool> {
  const current = async (): Promise<number> => Math.round(Number((await query('SELECT @@innodb_buffer_pool_size AS size'))[0].size) / 2 ** 20)
  const beforeMb = await current()
  if (wantedMb === 0 || beforeMb >= wantedMb) return {mb: beforeMb, beforeMb}
  const resize = async (mb: number): Promise<void> => {
    await query(`SET GLOBAL innodb_buffer_pool_size = ${mb * 2 ** 20}`)
    // The resize runs in the background: wait until the server reports the new size.
    for (let i = 0; i < 600 && (await current()) !== mb; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  try {
    await resize(wantedMb)
  } catch (error) {
    log(`the buffer pool stays at ${beforeMb} MB (${error instanceof Error ? error.message : String(error)})`)
    return {mb: beforeMb, beforeMb}
  }
  cleanups.unshift(() => resize(beforeMb))
  log(`InnoDB buffer pool ${beforeMb} MB → ${await current()} MB for this run`)
  return {mb: await current(), beforeMb}
}

export function numberArgument(name: string, fallback: number, options: {min?: number} = {}): number {
  const at = process.argv.indexOf(name)
  const value = at === -1 ? fallback : Number(process.argv[at + 1])
  if (!Number.isSafeInteger(value) || value < (options.min ?? 1)) throw new Error(`${name} must be an integer ≥ ${options.min ?? 1}`)
  return value
}

/**
 * A floor as a spawned node process: `script` (an ES module given to `node -e`,
 * run in the project so it can import its packages) with `args`, which counts
 * the rows it read and writes the count, alone, on stderr. Its wall time from
 * spawn to exit, node start-up included as for the CLI beside it.
 */
export function nodeFloor(script: string, args: string[]): Promise<{ms: number; rows: number}> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {cwd: root, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0 || !/^\d+$/.test(stderr.trim())) reject(new Error(`the floor exited ${code}: ${stderr}`))
      else resolve({ms, rows: Number(stderr.trim())})
    })
  })
}

/**
 * A migrated control database on the local MariaDB, opened in process, with a
 * context over it; all of it dropped by `cleanup`.
 */
export async function benchControlDb(prefix: string, queryTimeoutMs: number) {
  const controlDb = await createTestDatabase('mysql', prefix)
  cleanups.push(() => controlDb.drop())
  const db = await openControlDb(parseDatabaseUrl(controlDb.url, '/nonexistent'))
  cleanups.push(() => db.destroy())
  await migrateLatest(db)
  const ctx = makeContext(db, {queryTimeoutMs})
  cleanups.push(() => ctx.close())
  return {controlDb, db, ctx}
}

/** `addRds`'s input for a RAI database on the local MariaDB. */
export const mysqlRdsFields = (name: string, database: string, master: boolean) => ({
  name,
  engine: 'mysql' as const,
  host: mysqlServer.host,
  port: mysqlServer.port,
  username: mysqlServer.user,
  password: mysqlServer.password || null,
  raiDatabase: database,
  master,
  test: false,
})
