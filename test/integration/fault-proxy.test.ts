import type {Connection as CallbackConnection} from 'mysql2'
import mysql from 'mysql2/promise'
import {afterEach, describe, expect, it} from 'vitest'

import {type FaultMode, type FaultProxy, startFaultProxy} from '../support/fault-proxy.js'
import {mysqlServer} from '../support/servers.js'

/**
 * Upper bounds on elapsed time are hang checks, not benchmarks: the time the
 * behaviour should take plus this margin, so a slow, loaded CI machine cannot
 * fail them, and still well below what the broken behaviour would take.
 */
const HANG_MARGIN_MS = 3000

const proxies: FaultProxy[] = []
const connections: mysql.Connection[] = []

async function proxy(mode?: FaultMode): Promise<FaultProxy> {
  const started = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode})
  proxies.push(started)
  return started
}

async function connect(through: FaultProxy, connectTimeout = 3000): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({
    host: through.host,
    port: through.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    connectTimeout,
  })
  conn.on('error', () => {})
  connections.push(conn)
  return conn
}

async function failure(promise: Promise<unknown>): Promise<{code?: string; message: string; ms: number}> {
  const started = performance.now()
  try {
    await promise
  } catch (error) {
    const e = error as {code?: string; message?: string}
    return {code: e.code, message: String(e.message), ms: performance.now() - started}
  }
  throw new Error('expected a failure')
}

/** What mysql2 says about a connection the other side cut (before or during the query). */
function cutError(failed: {code?: string; message: string}): boolean {
  return /PROTOCOL_CONNECTION_LOST|ECONNRESET|EPIPE/.test(failed.code ?? '') || /closed state/.test(failed.message)
}

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false
  promise.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((resolve) => setTimeout(resolve, ms))
  return !settled
}

afterEach(async () => {
  for (const conn of connections.splice(0)) conn.destroy()
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

describe('fault proxy', () => {
  it('pass: forwards both ways', async () => {
    const p = await proxy()
    expect(p.host).toBe('127.0.0.1')
    expect(p.mode).toBe('pass')
    const conn = await connect(p)
    const [rows] = await conn.query('SELECT 1 + 1 AS two')
    expect(rows).toEqual([{two: 2}])
    expect(p.accepted).toBe(1)
  })

  it('refuse: nothing listens (ECONNREFUSED), open connections are cut, pass listens again on the same port', async () => {
    const p = await proxy()
    const open = await connect(p)
    const port = p.port
    await p.setMode('refuse')
    expect(cutError(await failure(open.query('SELECT 1')))).toBe(true)
    // refused at once, not after the 10 s connect timeout
    const refused = await failure(connect(p, 10_000))
    expect(refused.code).toBe('ECONNREFUSED')
    expect(refused.ms).toBeLessThan(HANG_MARGIN_MS)
    await p.setMode('pass')
    expect(p.port).toBe(port)
    const again = await connect(p)
    expect((await again.query('SELECT 1 AS one'))[0]).toEqual([{one: 1}])
  })

  it('refuse from the start: the port is reserved but closed', async () => {
    const p = await proxy('refuse')
    expect(p.port).toBeGreaterThan(0)
    expect((await failure(connect(p))).code).toBe('ECONNREFUSED')
    await p.setMode('pass')
    await connect(p)
  })

  it('blackhole: accepts TCP but never answers, so the connect times out', async () => {
    const p = await proxy('blackhole')
    const timedOut = await failure(connect(p, 600))
    expect(timedOut.code).toBe('ETIMEDOUT')
    expect(timedOut.ms).toBeGreaterThanOrEqual(550)
    expect(timedOut.ms).toBeLessThan(600 + HANG_MARGIN_MS)
    expect(p.accepted).toBe(1)
  })

  it('blackhole holds the bytes of an open connection; pass releases them', async () => {
    const p = await proxy()
    const conn = await connect(p)
    await p.setMode('blackhole')
    const query = conn.query('SELECT 42 AS answer')
    expect(await pendingAfter(query, 400)).toBe(true)
    await p.setMode('pass')
    expect((await query)[0]).toEqual([{answer: 42}])
  })

  it('stallAfterBytes: a result stops in its middle (its first bytes arrive, the rest is held); pass delivers the rest', async () => {
    const p = await proxy()
    const conn = await connect(p)
    // A result of some 100 kB, then one of a few bytes on the same connection.
    const big = "SELECT REPEAT('x', 1000) AS filler FROM information_schema.COLLATIONS a JOIN information_schema.COLLATIONS b LIMIT 100"
    await p.setMode({stallAfterBytes: 10_000})
    let received = 0
    // The callback connection underneath streams the rows as they arrive.
    const stream = (conn as unknown as {connection: CallbackConnection}).connection.query(big).stream()
    const rows = new Promise<number>((resolve, reject) => {
      stream.on('data', () => received++)
      stream.on('end', () => resolve(received))
      stream.on('error', reject)
    })
    expect(await pendingAfter(rows, 500)).toBe(true)
    // Some rows came before the stall, not all.
    expect(received).toBeGreaterThan(0)
    expect(received).toBeLessThan(100)
    await p.setMode('pass')
    expect(await rows).toBe(100)
    expect((await conn.query('SELECT 42 AS answer'))[0]).toEqual([{answer: 42}])
  })

  it('delay: every chunk arrives late, in order', async () => {
    // long enough that "no delay any more" can be checked with a generous margin
    const delayMs = 1000
    const p = await proxy()
    const conn = await connect(p)
    await p.setMode({delayMs})
    expect(p.mode).toEqual({delayMs})
    const started = performance.now()
    const [rows] = await conn.query('SELECT 1 AS one')
    const ms = performance.now() - started
    expect(rows).toEqual([{one: 1}])
    // the query is delayed on the way in and the answer on the way out
    expect(ms).toBeGreaterThanOrEqual(2 * delayMs - 10)
    // a large answer spans many chunks: it must arrive whole and in order
    const [big] = await conn.query("SELECT REPEAT('abcdefghij', 100000) AS s, MD5(REPEAT('abcdefghij', 100000)) AS h")
    const {createHash} = await import('node:crypto')
    const row = (big as Array<{s: string; h: string}>)[0]
    expect(row.s.length).toBe(1_000_000)
    expect(createHash('md5').update(row.s).digest('hex')).toBe(row.h)
    await p.setMode('pass')
    // back to pass: no delay. A query still delayed would take at least 2 × delayMs.
    const quick = performance.now()
    await conn.query('SELECT 1')
    expect(performance.now() - quick).toBeLessThan(2 * delayMs)
  })

  it('close: cuts open connections and stops listening', async () => {
    const p = await proxy()
    const conn = await connect(p)
    await p.close()
    expect(cutError(await failure(conn.query('SELECT 1')))).toBe(true)
    expect((await failure(connect(p))).code).toBe('ECONNREFUSED')
  })
})
