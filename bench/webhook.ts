// `raiops audit:serve` with a MariaDB control database, loaded on loopback by a
// closed-loop generator: --concurrency keep-alive connections each send the next
// signed event as soon as the last one is answered, for --seconds, which drives
// the receiver at the highest rate it sustains. Reports requests/s, p50/p99
// latency, and checks that every acknowledged event is stored exactly once
// (0 lost, 0 duplicated). The floor: the same store transactions run directly
// against the control database, with the same concurrency, without HTTP.
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:webhook [-- --seconds 30] [--concurrency 32]
import mysql from 'mysql2/promise'
import {spawn} from 'node:child_process'
import {createHmac} from 'node:crypto'
import {Agent, request} from 'node:http'
import {cpus, loadavg} from 'node:os'

import {openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {storeRaiEvent} from '../src/lib/webhook/events.js'
import {createTestDatabase, createTestDir, mysqlServer} from '../test/support/servers.js'
import {benchLog, bin, cleanup, cleanUpOnSignals, cleanups, cliRunner, ms1, numberArgument, root} from './support.js'

const SECONDS = numberArgument('--seconds', 30)
const CONCURRENCY = numberArgument('--concurrency', 32)
const FLOOR_SECONDS = numberArgument('--floor-seconds', 10)
const SECRET = 'bench-webhook-secret-0123456789'
const PATH = '/api/webhooks/rai/audit'

const benchStarted = performance.now()
const log = benchLog('webhook')
cleanUpOnSignals(log)

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

function eventBody(id: string): string {
  return JSON.stringify({
    id,
    occurred_at: new Date().toISOString(),
    tenant_id: 1 + (id.length % 50),
    rds_instance_id: 1,
    actor: {type: 'user', id: 42, email: 'agent@example.com'},
    action: 'user.updated',
    target: {type: 'user', id: 42},
    old_values: {name: 'Before', status: 'active'},
    new_values: {name: 'After', status: 'active'},
  })
}

function sign(body: string): string {
  const t = Math.floor(Date.now() / 1000)
  return `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')}`
}

function send(agent: Agent, port: number, body: string): Promise<{status: number; duplicate: boolean}> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: PATH,
        method: 'POST',
        agent,
        headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-raiops-signature': sign(body)},
      },
      (res) => {
        let text = ''
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({status: res.statusCode ?? 0, duplicate: text.includes('"duplicate":true')}))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

try {
  const home = createTestDir('raiops-bench-webhook-')
  cleanups.push(() => home.drop())
  const control = await createTestDatabase('mysql', 'raiops_bench_webhook')
  cleanups.push(() => control.drop())
  const {env, cliOk} = cliRunner(home.path)
  env.RAIOPS_DATABASE_URL = control.url
  env.RAIOPS_WEBHOOK_SECRETS = SECRET
  await cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')

  // The floor: the store transaction itself, no HTTP, same concurrency.
  const db = await openControlDb(parseDatabaseUrl(control.url, home.path))
  let floorCount = 0
  const floorEnds = performance.now() + FLOOR_SECONDS * 1000
  const floorStarted = performance.now()
  await Promise.all(
    Array.from({length: CONCURRENCY}, async (_, worker) => {
      for (let i = 0; performance.now() < floorEnds; i++) {
        const event = JSON.parse(eventBody(`floor-${worker}-${i}`))
        await storeRaiEvent({db, now: () => new Date()}, {event, from: {ip: '127.0.0.1'}})
        floorCount++
      }
    }),
  )
  const floorRate = floorCount / ((performance.now() - floorStarted) / 1000)
  await db.destroy()
  log(`floor: ${floorCount} events stored directly in ${FLOOR_SECONDS} s (${Math.round(floorRate)}/s)`)

  const server = spawn(process.execPath, [bin, 'audit:serve', '--port', '0', '--quiet'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  cleanups.push(() => server.exitCode === null && server.kill('SIGKILL'))
  let serverErr = ''
  server.stderr.on('data', (d) => (serverErr += d))
  const exited = new Promise<number | null>((resolve) => server.on('close', resolve))
  while (!/listening on http:\/\/127\.0\.0\.1:(\d+)/.test(serverErr)) {
    if (server.exitCode !== null) throw new Error(`audit:serve exited: ${serverErr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(serverErr)?.[1])
  log(`audit:serve on port ${port}; ${CONCURRENCY} connections for ${SECONDS} s`)

  const agent = new Agent({keepAlive: true, maxSockets: CONCURRENCY})
  const latencies: number[] = []
  const statuses = new Map<number, number>()
  let sent = 0
  let duplicates = 0
  const ends = performance.now() + SECONDS * 1000
  const loadStarted = performance.now()
  await Promise.all(
    Array.from({length: CONCURRENCY}, async (_, worker) => {
      for (let i = 0; performance.now() < ends; i++) {
        const body = eventBody(`evt-${worker}-${i}`)
        const started = performance.now()
        const {status, duplicate} = await send(agent, port, body)
        latencies.push(performance.now() - started)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (duplicate) duplicates++
        sent++
      }
    }),
  )
  const loadS = (performance.now() - loadStarted) / 1000
  agent.destroy()
  server.kill('SIGTERM')
  const exitCode = await exited

  const conn = await mysql.createConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    database: control.name,
  })
  const [[counts]] = (await conn.query(
    "SELECT (SELECT COUNT(*) FROM audit_logs WHERE actor_type = 'rai' AND source NOT LIKE '%floor-%') AS storedRows, (SELECT COUNT(DISTINCT event_id) FROM webhook_events WHERE event_id LIKE 'evt-%') AS distinctIds",
  )) as unknown as [[{storedRows: number; distinctIds: number}]]
  await conn.end()
  const verify = JSON.parse((await cliOk(['audit:verify', '--json'])).stdout) as {ok: boolean; entries: number}

  const accepted = statuses.get(200) ?? 0
  const sorted = [...latencies].sort((a, b) => a - b)
  const rate = sent / loadS
  console.log(
    JSON.stringify(
      {
        benchmark: 'webhook',
        setup: {
          seconds: SECONDS,
          concurrency: CONCURRENCY,
          controlDatabase: 'MariaDB on 127.0.0.1',
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
        },
        requests: {
          sent,
          statuses: Object.fromEntries(statuses),
          perSecond: Math.round(rate),
          p50Ms: ms1(percentile(sorted, 50)),
          p90Ms: ms1(percentile(sorted, 90)),
          p99Ms: ms1(percentile(sorted, 99)),
          maxMs: ms1(sorted.at(-1) ?? 0),
        },
        stored: {
          rows: Number(counts.storedRows),
          distinctEventIds: Number(counts.distinctIds),
          acknowledged: accepted,
          duplicatesReported: duplicates,
          lost: accepted - Number(counts.storedRows),
          duplicated: Number(counts.storedRows) - Number(counts.distinctIds),
        },
        chain: {intact: verify.ok, entries: verify.entries},
        floor: {
          what: `storeRaiEvent (audit append + event id, one transaction each) from ${CONCURRENCY} concurrent callers on one knex pool, no HTTP`,
          seconds: FLOOR_SECONDS,
          perSecond: Math.round(floorRate),
        },
        ratioToFloor: Math.round((rate / floorRate) * 1000) / 1000,
        serverExitCode: exitCode,
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
