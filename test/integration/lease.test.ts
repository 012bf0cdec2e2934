import type {Knex} from 'knex'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {hostname} from 'node:os'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {openControlDb} from '../../src/lib/db/control-db.js'
import {BusyError} from '../../src/lib/errors/index.js'
import {acquireLease, type AcquireLeaseOptions, type Lease, readLease} from '../../src/lib/lease/lease.js'
import {processIdentity} from '../../src/lib/lease/process-identity.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {startFaultProxy} from '../support/fault-proxy.js'

/**
 * The upper bounds on elapsed time below are hang checks, not benchmarks: each
 * is the time the behaviour should take plus this margin, so a slow, loaded CI
 * machine cannot fail them, and each stays well below the time the broken
 * behaviour would take (the full wait, or forever).
 */
const HANG_MARGIN_MS = 3000

const root = fileURLToPath(new URL('../..', import.meta.url))
const leaseModule = new URL('../../src/lib/lease/lease.ts', import.meta.url).href
const controlDbModule = new URL('../../src/lib/db/control-db.ts', import.meta.url).href

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The BusyError `promise` rejects with (fails the test if it resolves or rejects with anything else). */
async function busy(promise: Promise<unknown>): Promise<BusyError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(BusyError)
    return error as BusyError
  }
  throw new Error('expected a BusyError, the lease was acquired')
}

/** The signal's reason once it aborts; rejects after `limitMs` (a hang check). */
function abortReason(signal: AbortSignal, limitMs: number): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the lease signal was not aborted within ${limitMs} ms`)), limitMs)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve(signal.reason)
    })
  })
}

/** This process's machine and pid namespace, as a lease records them. */
const here = processIdentity(process.pid)

function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`)
  return value
}

/** A pid that names no process in this pid namespace. */
function pidFreeHere(): number {
  for (let pid = 20_000 + Math.floor(Math.random() * 5000); pid > 300; pid--) if (!existsSync(`/proc/${pid}`)) return pid
  throw new Error('no free pid')
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], {stdio: 'ignore'})
  await new Promise((resolve, reject) => {
    child.on('exit', resolve)
    child.on('error', reject)
  })
  return child.pid as number
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.on('exit', () => resolve()))
}

/** Resolves once the child printed `line`; rejects if it exits first or after `limitMs`. */
function waitForLine(child: ChildProcess, line: string, limitMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`the child did not print ${line} within ${limitMs} ms: ${stderr}`)), limitMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.split('\n').includes(line)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the child exited (${code ?? signal}) before printing ${line}: ${stderr}`))
    })
  })
}

/** Run in a child process: takes the lease as another host would, says so, then never ends (until SIGKILL). */
const HOLDER_SCRIPT = `
const control = await import(process.env.LEASE_TEST_CONTROL_DB_MODULE)
const {acquireLease} = await import(process.env.LEASE_TEST_LEASE_MODULE)
const db = await control.openControlDb(control.parseDatabaseUrl(process.env.RAIOPS_DATABASE_URL, '/nonexistent'))
const host = process.env.LEASE_TEST_HOST || undefined
await acquireLease(db, process.env.LEASE_TEST_NAME, {ttlMs: Number(process.env.LEASE_TEST_TTL_MS || 1000), heartbeatMs: 100, holder: {host}})
process.stdout.write('held\\n')
setInterval(() => {}, 1 << 30)
`

describe.each(CONTROL_ENGINES)('leases on %s', (engine) => {
  let ctl: TestControlDb
  const leases: Lease[] = []
  const extraDbs: Knex[] = []
  const children: ChildProcess[] = []
  let serial = 0

  const nextName = () => `sync:lease-test-${serial++}`

  beforeAll(async () => {
    ctl = await createControlDb(engine)
  })

  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL')
      await exited(child)
    }
    await Promise.all(leases.splice(0).map((lease) => lease.release()))
  })

  afterAll(async () => {
    await Promise.all(extraDbs.splice(0).map((db) => db.destroy()))
    await ctl?.drop()
  })

  async function acquire(db: Knex, name: string, options?: AcquireLeaseOptions): Promise<Lease> {
    const lease = await acquireLease(db, name, options)
    leases.push(lease)
    return lease
  }

  async function anotherConnection(): Promise<Knex> {
    const db = await openControlDb(ctl.target)
    extraDbs.push(db)
    return db
  }

  async function holderColumn(name: string): Promise<string[]> {
    const rows = (await ctl.db('locks').where({name}).select('holder')) as Array<{holder: string}>
    return rows.map((row) => row.holder)
  }

  const holderText = (lease: Lease) => {
    const proof = lease.holder.process ? `:${lease.holder.process.bootId}/${lease.holder.process.pidNamespace}/${lease.holder.process.startTime ?? ''}` : ''
    return `${lease.holder.host}:${lease.holder.pid}:${lease.holder.id}${proof}`
  }

  /** Starts HOLDER_SCRIPT in a child process (`command` in front of node, e.g. unshare); resolves once it holds the lease. */
  async function holderProcess(name: string, options: {host?: string; ttlMs?: number; command?: string[]} = {}): Promise<ChildProcess> {
    const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', HOLDER_SCRIPT]
    const [file, ...args] = [...(options.command ?? []), ...node]
    const child = spawn(file, args, {
      cwd: root,
      env: {
        ...process.env,
        RAIOPS_DATABASE_URL: ctl.url,
        LEASE_TEST_NAME: name,
        LEASE_TEST_HOST: options.host ?? '',
        LEASE_TEST_TTL_MS: String(options.ttlMs ?? 1000),
        LEASE_TEST_LEASE_MODULE: leaseModule,
        LEASE_TEST_CONTROL_DB_MODULE: controlDbModule,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    await waitForLine(child, 'held', 30_000)
    return child
  }

  it('a held lease: another acquire is busy (exit 6) naming the host and since when; release frees it, is idempotent and spares a new holder', async () => {
    const name = nextName()
    const first = await acquire(ctl.db, name)
    expect(first.name).toBe(name)
    expect(first.holder).toEqual({host: hostname(), pid: process.pid, id: expect.stringMatching(/^[^:]+$/), process: here})
    expect(first.signal.aborted).toBe(false)
    expect(await holderColumn(name)).toEqual([holderText(first)])
    const info = await readLease(ctl.db, name)
    expect(info).toEqual({name, holder: first.holder, acquiredAt: expect.any(String), expiresAt: expect.any(String)})
    // the default ttl, from one clock reading
    expect(Date.parse(info!.expiresAt) - Date.parse(info!.acquiredAt)).toBe(60_000)

    const error = await busy(acquireLease(ctl.db, name))
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain(`${name} is already running on ${hostname()} (pid ${process.pid}) since ${info!.acquiredAt}`)
    expect(error.hint).toContain(info!.expiresAt)
    expect(await holderColumn(name)).toEqual([holderText(first)])

    await first.release()
    await first.release()
    expect(await holderColumn(name)).toEqual([])
    expect(await readLease(ctl.db, name)).toBeNull()

    const second = await acquire(ctl.db, name)
    expect(second.holder.id).not.toBe(first.holder.id)
    await first.release()
    expect(await holderColumn(name)).toEqual([holderText(second)])
    await expect(first.renew()).rejects.toBeInstanceOf(BusyError)
    expect(first.signal.aborted).toBe(false)
    await second.renew()
    expect(second.signal.aborted).toBe(false)
  })

  it('stores the times of its clock, to the millisecond', async () => {
    const name = nextName()
    const at = new Date('2099-03-04T05:06:07.123Z')
    const lease = await acquire(ctl.db, name, {
      ttlMs: 5_000,
      heartbeatMs: 0,
      now: () => at,
      holder: {host: 'host-a', pid: 4242, id: 'abc', process: null},
    })
    expect(lease.holder).toEqual({host: 'host-a', pid: 4242, id: 'abc', process: null})
    expect(await readLease(ctl.db, name)).toEqual({
      name,
      holder: {host: 'host-a', pid: 4242, id: 'abc', process: null},
      acquiredAt: '2099-03-04T05:06:07.123Z',
      expiresAt: '2099-03-04T05:06:12.123Z',
    })
    expect(await readLease(ctl.db, nextName())).toBeNull()

    // An id of digits, with the proof of the process: each field read back where it belongs.
    const digits = nextName()
    const holder = {
      host: 'host-b',
      pid: 77,
      id: '123456789012',
      process: {bootId: '0a1b2c3d-0000-4000-8000-123456789abc', pidNamespace: '4026531836', startTime: '4242'},
    }
    expect((await acquire(ctl.db, digits, {heartbeatMs: 0, holder})).holder).toEqual(holder)
    expect((await readLease(ctl.db, digits))?.holder).toEqual(holder)
  })

  it('two concurrent acquires, on two connections, several rounds: exactly one wins', async () => {
    const other = await anotherConnection()
    for (let round = 0; round < 8; round++) {
      const name = nextName()
      const results = await Promise.allSettled([acquire(ctl.db, name), acquire(other, name), acquire(round % 2 ? ctl.db : other, name)])
      const won = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === 'fulfilled')
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      expect(won).toHaveLength(1)
      for (const r of lost) expect(r.reason).toBeInstanceOf(BusyError)
      expect(await holderColumn(name)).toEqual([holderText(won[0].value)])
    }
  })

  it('racing takeovers of an expired lease: exactly one wins', async () => {
    const other = await anotherConnection()
    for (let round = 0; round < 5; round++) {
      const name = nextName()
      // expired at once: taken an hour ago with a 1 s ttl
      await acquire(ctl.db, name, {ttlMs: 1000, heartbeatMs: 0, now: () => new Date(Date.now() - 3_600_000), holder: {host: 'other-host'}})
      const results = await Promise.allSettled([acquire(ctl.db, name), acquire(other, name), acquire(other, name)])
      const won = results.filter((r): r is PromiseFulfilledResult<Lease> => r.status === 'fulfilled')
      expect(won).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(BusyError)
      expect(await holderColumn(name)).toEqual([holderText(won[0].value)])
    }
  })

  it('an expired lease is taken over; the old lease then cannot renew, and its release leaves the new row', async () => {
    const name = nextName()
    const old = await acquire(ctl.db, name, {ttlMs: 300, heartbeatMs: 0})
    await sleep(400)
    const taker = await acquire(ctl.db, name)
    expect(await holderColumn(name)).toEqual([holderText(taker)])

    const error = await busy(old.renew())
    expect(error.message).toMatch(/lost the lease/)
    expect(old.signal.aborted).toBe(true)
    await old.release()
    expect(await holderColumn(name)).toEqual([holderText(taker)])
    await taker.renew()
  })

  it('a heartbeat keeps a lease alive beyond its ttl', async () => {
    const name = nextName()
    const lease = await acquire(ctl.db, name, {ttlMs: 400, heartbeatMs: 100})
    const before = await readLease(ctl.db, name)
    await sleep(1000)
    const error = await busy(acquireLease(ctl.db, name))
    expect(error.message).toContain('already running on')
    const after = await readLease(ctl.db, name)
    expect(after?.holder).toEqual(lease.holder)
    expect(after?.acquiredAt).toBe(before?.acquiredAt)
    expect(Date.parse(after!.expiresAt)).toBeGreaterThan(Date.parse(before!.expiresAt))
    expect(lease.signal.aborted).toBe(false)
  })

  it('a lease held by a dead process on this host is taken over at once, not one on another host', async () => {
    const pid = await deadPid()
    const name = nextName()
    const crashed = await acquire(ctl.db, name, {holder: {pid}, heartbeatMs: 0})
    expect(crashed.holder).toMatchObject({host: hostname(), pid})
    const next = await acquire(ctl.db, name)
    expect(await holderColumn(name)).toEqual([holderText(next)])

    // the same dead pid on another machine says nothing: the lease stands until it expires
    const elsewhere = nextName()
    await acquire(ctl.db, elsewhere, {holder: {host: 'other-host', pid}, heartbeatMs: 0})
    const error = await busy(acquireLease(ctl.db, elsewhere))
    expect(error.message).toContain(`already running on other-host (pid ${pid})`)
  })

  it('a holder on another host killed with SIGKILL keeps the lease until its ttl passes, then it is taken', async () => {
    const name = nextName()
    const child = await holderProcess(name, {host: 'other-host'})
    expect((await readLease(ctl.db, name))?.holder).toMatchObject({host: 'other-host', pid: child.pid})

    child.kill('SIGKILL')
    await exited(child)
    // its last heartbeat was at most 100 ms ago: ≥ 900 ms of its 1 s ttl remain
    const error = await busy(acquireLease(ctl.db, name))
    expect(error.message).toContain(`already running on other-host (pid ${child.pid})`)
    const last = await readLease(ctl.db, name)

    const started = performance.now()
    const next = await acquire(ctl.db, name, {waitMs: 1000 + HANG_MARGIN_MS})
    expect(performance.now() - started).toBeLessThan(1000 + HANG_MARGIN_MS)
    const taken = await readLease(ctl.db, name)
    expect(taken?.holder).toEqual(next.holder)
    expect(Date.parse(taken!.acquiredAt)).toBeGreaterThan(Date.parse(last!.expiresAt))
  })

  it('a holder of this host and pid namespace killed with SIGKILL (kill -9): its lease is taken over at once', async () => {
    const name = nextName()
    const child = await holderProcess(name, {ttlMs: 60_000})
    expect((await readLease(ctl.db, name))?.holder).toEqual({
      host: hostname(),
      pid: child.pid,
      id: expect.any(String),
      process: {...here, startTime: expect.stringMatching(/^\d+$/)},
    })
    // Alive: its lease stands.
    expect((await busy(acquireLease(ctl.db, name))).message).toContain(`already running on ${hostname()} (pid ${child.pid})`)

    child.kill('SIGKILL')
    await exited(child)
    const next = await acquire(ctl.db, name)
    expect(await holderColumn(name)).toEqual([holderText(next)])
  })

  it('a holder in another pid namespace with the same hostname (another container) keeps its lease until it expires, alive or killed', async () => {
    const name = nextName()
    const ttlMs = 4000
    // Its pid, as that namespace numbers it, is one no process has here: seen from here it looks gone.
    const pid = pidFreeHere()
    const child = await holderProcess(name, {
      ttlMs,
      command: [
        'unshare',
        '--kill-child',
        '--pid',
        '--fork',
        '--mount-proc',
        'sh',
        '-c',
        `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid && "$@"; exit $?`,
        'sh',
      ],
    })
    const held = await readLease(ctl.db, name)
    expect(held?.holder).toMatchObject({host: hostname(), pid})

    // Alive in its namespace: busy (exit 6), naming it.
    const error = await busy(acquireLease(ctl.db, name))
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain(`already running on ${hostname()} (pid ${pid})`)
    expect(held?.holder.process).toEqual({
      bootId: here?.bootId,
      pidNamespace: expect.not.stringMatching(`^${here?.pidNamespace}$`),
      startTime: expect.stringMatching(/^\d+$/),
    })

    // Killed there: nothing here can prove it, so its lease stands until it expires.
    child.kill('SIGKILL')
    await exited(child)
    await busy(acquireLease(ctl.db, name))
    const last = await readLease(ctl.db, name)
    const started = performance.now()
    const next = await acquire(ctl.db, name, {waitMs: ttlMs + HANG_MARGIN_MS})
    const waited = Math.round(performance.now() - started)
    const taken = await readLease(ctl.db, name)
    expect(taken?.holder).toEqual(next.holder)
    expect(Date.parse(taken!.acquiredAt)).toBeGreaterThan(Date.parse(last!.expiresAt))
    console.log(
      `${engine}: a lease held from another pid namespace (same hostname, pid ${pid}) was refused (busy, exit 6) while alive and after kill -9, then taken ${waited} ms later, once it expired (ttl ${ttlMs} ms)`,
    )
  })

  it('a pid now naming another process (started at another time) proves its holder gone; the same start time does not', async () => {
    const init = must(processIdentity(1), 'the identity of pid 1')
    const reused = nextName()
    await acquire(ctl.db, reused, {heartbeatMs: 0, holder: {pid: 1, process: {...init, startTime: String(Number(init.startTime) + 1)}}})
    const taker = await acquire(ctl.db, reused)
    expect(await holderColumn(reused)).toEqual([holderText(taker)])

    const same = nextName()
    await acquire(ctl.db, same, {heartbeatMs: 0, holder: {pid: 1, process: init}})
    await busy(acquireLease(ctl.db, same))
    // Nor does a lease that recorded no identity at all (another OS, an older raiops).
    const unknown = nextName()
    await acquire(ctl.db, unknown, {heartbeatMs: 0, holder: {pid: await deadPid(), process: null}})
    await busy(acquireLease(ctl.db, unknown))
  })

  it('waitMs: an acquire succeeds once the holder releases; without a release it is busy after the wait', async () => {
    const name = nextName()
    const holder = await acquire(ctl.db, name)
    const started = performance.now()
    const releasing = sleep(300).then(() => holder.release())
    // a wait far longer than the release: succeeding well before its end proves it polls
    const waiter = await acquire(ctl.db, name, {waitMs: 10_000})
    expect(performance.now() - started).toBeLessThan(300 + HANG_MARGIN_MS)
    await releasing
    expect(await holderColumn(name)).toEqual([holderText(waiter)])

    const waitStarted = performance.now()
    const error = await busy(acquireLease(ctl.db, name, {waitMs: 300}))
    const waited = performance.now() - waitStarted
    expect(error.message).toContain(`already running on ${hostname()}`)
    expect(waited).toBeGreaterThanOrEqual(290)
    expect(waited).toBeLessThan(300 + HANG_MARGIN_MS)
    expect(await holderColumn(name)).toEqual([holderText(waiter)])
  })

  it('a heartbeat that finds the lease taken over, or gone, aborts the signal', async () => {
    const name = nextName()
    const lease = await acquire(ctl.db, name, {ttlMs: 10_000, heartbeatMs: 100})
    await ctl.db('locks').where({name}).update({holder: 'intruder:1:x'})
    const reason = await abortReason(lease.signal, 100 + HANG_MARGIN_MS)
    expect(reason).toBeInstanceOf(Error)
    expect((reason as Error).message).toMatch(new RegExp(`^lost the lease ${name}: another run took it over \\(intruder, pid 1`))
    await expect(lease.renew()).rejects.toBe(reason)
    await lease.release()
    expect(await holderColumn(name)).toEqual(['intruder:1:x'])
    await ctl.db('locks').where({name}).delete()

    const gone = nextName()
    const deleted = await acquire(ctl.db, gone, {ttlMs: 10_000, heartbeatMs: 100})
    await ctl.db('locks').where({name: gone}).delete()
    const goneReason = await abortReason(deleted.signal, 100 + HANG_MARGIN_MS)
    expect((goneReason as Error).message).toMatch(/^lost the lease .*: its row is gone/)
  })

  // A SQLite file has no connection to lose: this one is for the server engines.
  if (engine !== 'sqlite')
    it('a heartbeat that cannot reach the database retries, and gives up once the lease has expired', async () => {
      const connection = ctl.target.connection!
      const proxy = await startFaultProxy({targetHost: connection.host, targetPort: connection.port})
      const db = await openControlDb({...ctl.target, connection: {...connection, port: proxy.port}}, {connectTimeoutMs: 500})
      try {
        const name = nextName()
        const lease = await acquire(db, name, {ttlMs: 3000, heartbeatMs: 100})
        const before = await readLease(ctl.db, name)

        // an outage well within the ttl: the failed heartbeats are retried
        await proxy.setMode('refuse')
        await sleep(600)
        expect(lease.signal.aborted).toBe(false)
        await proxy.setMode('pass')
        const limit = performance.now() + HANG_MARGIN_MS
        let renewed = before
        while (Date.parse(renewed!.expiresAt) <= Date.parse(before!.expiresAt) && performance.now() < limit) {
          await sleep(100)
          renewed = await readLease(ctl.db, name)
        }
        expect(Date.parse(renewed!.expiresAt)).toBeGreaterThan(Date.parse(before!.expiresAt))
        expect(lease.signal.aborted).toBe(false)

        // an outage past the expiry: the lease is given up
        await proxy.setMode('refuse')
        const reason = await abortReason(lease.signal, 3000 + HANG_MARGIN_MS)
        expect((reason as Error).message).toMatch(new RegExp(`^lost the lease ${name}: could not renew it before it expired`))
        // release never throws, even with the database unreachable
        await lease.release()
        await proxy.setMode('pass')
        expect(await holderColumn(name)).toEqual([holderText(lease)])
      } finally {
        await db.destroy()
        await proxy.close()
      }
    })
})
