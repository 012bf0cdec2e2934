#!/usr/bin/env node
// Makes sure the database servers the tests run against answer a query:
// MariaDB (RAIOPS_TEST_MYSQL_URL, default mysql://root@127.0.0.1:3306) and
// PostgreSQL (RAIOPS_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432).
// A local server that is installed but stopped is started and waited for (30 s);
// a missing one is named with the package to install. Exit 0 when both answer,
// else 1. Run by `npm test` (pretest) and CI. Usage: node scripts/test-servers.mjs [--mysql-only]
import mysql from 'mysql2/promise'
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import pg from 'pg'

const START_WAIT_MS = 30_000
const PROBE_TIMEOUT_MS = 3_000
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

/** @typedef {{host: string, port: number, user: string, password: string}} Address */
/** @typedef {{ok: true, version: string} | {ok: false, kind: 'down' | 'auth' | 'other', message: string}} Probe */

/** @returns {Address} */
function addressFrom(url, defaultPort) {
  const parsed = new URL(url)
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : defaultPort,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  }
}

function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} timed out after ${ms} ms`), {code: 'ETIMEDOUT'})), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOENT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  '57P03', // PostgreSQL: the database system is starting up / shutting down
  '08006',
])

/** @returns {Probe['kind']} */
function classify(error, authCodes) {
  const code = error?.code ?? error?.errors?.[0]?.code
  if (authCodes.includes(code)) return 'auth'
  if (DOWN_CODES.has(code) || /Connection terminated|ECONNREFUSED|ETIMEDOUT/.test(String(error?.message))) return 'down'
  return 'other'
}

function messageOf(error) {
  if (error?.errors?.length) return messageOf(error.errors[0])
  return String(error?.sqlMessage ?? error?.message ?? error).split('\n')[0]
}

/** @returns {Promise<Probe>} */
async function probeMysql(address) {
  let conn
  try {
    conn = await withTimeout(mysql.createConnection({...address, connectTimeout: PROBE_TIMEOUT_MS}), PROBE_TIMEOUT_MS + 500, 'connect')
    const [rows] = await withTimeout(conn.query('SELECT VERSION() AS version'), PROBE_TIMEOUT_MS, 'SELECT VERSION()')
    return {ok: true, version: String(rows[0].version)}
  } catch (error) {
    // 1045 access denied, 1044 no right on a database, 1698 unix_socket plugin refused root
    return {
      ok: false,
      kind: classify(error, ['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR']),
      message: messageOf(error),
    }
  } finally {
    conn?.destroy()
  }
}

/** @returns {Promise<Probe>} */
async function probePg(address) {
  const client = new pg.Client({
    ...address,
    database: 'postgres',
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
  })
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), PROBE_TIMEOUT_MS + 500, 'connect')
    const result = await client.query('SHOW server_version')
    return {ok: true, version: String(result.rows[0].server_version)}
  } catch (error) {
    // 28P01 wrong password, 28000 no pg_hba.conf entry / role does not exist
    return {ok: false, kind: classify(error, ['28P01', '28000']), message: messageOf(error)}
  } finally {
    client.end().catch(() => {})
  }
}

function run(command, args) {
  const result = spawnSync(command, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim()
  if (result.error) return {ok: false, output: result.error.message}
  return {ok: result.status === 0, output}
}

function which(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], {encoding: 'utf8'}).status === 0
}

function tail(file, lines) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

const servers = [
  {
    label: 'MariaDB',
    envVar: 'RAIOPS_TEST_MYSQL_URL',
    exampleUrl: 'mysql://USER:PASSWORD@127.0.0.1:3306',
    address: addressFrom(process.env.RAIOPS_TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306', 3306),
    probe: probeMysql,
    installHint: 'MariaDB is not installed: run apt-get install -y mariadb-server',
    installed() {
      return existsSync('/usr/sbin/mariadbd') || existsSync('/usr/sbin/mysqld') || which('mariadbd') || (which('service') && existsSync('/etc/init.d/mariadb'))
    },
    start() {
      if (existsSync('/usr/sbin/mariadbd')) {
        // The socket/pid directory lives on a tmpfs in containers; mariadbd does not create it.
        if (!existsSync('/run/mysqld')) run('install', ['-d', '-o', 'mysql', '-g', 'mysql', '-m', '0755', '/run/mysqld'])
        return run('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd'])
      }
      return run('service', ['mariadb', 'start'])
    },
    alive() {
      // start-stop-daemon --status: 0 running, 1/3 not running; without mariadbd we cannot tell.
      if (!existsSync('/usr/sbin/mariadbd')) return true
      return run('start-stop-daemon', ['--status', '--exec', '/usr/sbin/mariadbd']).ok
    },
    logTail: () => tail('/var/log/mysql/error.log', 5),
  },
  {
    label: 'PostgreSQL',
    envVar: 'RAIOPS_TEST_PG_URL',
    exampleUrl: 'postgres://USER:PASSWORD@127.0.0.1:5432',
    address: addressFrom(process.env.RAIOPS_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432', 5432),
    probe: probePg,
    installHint: 'PostgreSQL is not installed: run apt-get install -y postgresql',
    installed() {
      return which('pg_ctlcluster') && pgVersion() !== undefined
    },
    start() {
      const version = pgVersion()
      return run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'])
    },
    alive: () => true,
    logTail: () => tail(`/var/log/postgresql/postgresql-${pgVersion()}-main.log`, 5),
  },
]

/** The newest cluster version under /etc/postgresql (e.g. "15"). */
function pgVersion() {
  try {
    const versions = readdirSync('/etc/postgresql').filter((name) => /^\d+(\.\d+)?$/.test(name))
    return versions.sort((a, b) => Number(b) - Number(a))[0]
  } catch {
    return undefined
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** @returns {Promise<{ok: boolean, line: string}>} */
async function ensure(server) {
  const where = `${server.address.host}:${server.address.port}`
  const first = await server.probe(server.address)
  if (first.ok) return {ok: true, line: `${server.label} ${first.version} is up at ${where}`}
  if (first.kind === 'auth') {
    return {
      ok: false,
      line: `${server.label} at ${where} is running but rejected user "${server.address.user}": ${first.message}. Set ${server.envVar}=${server.exampleUrl} (an admin user that may create databases).`,
    }
  }
  if (first.kind === 'other') {
    return {
      ok: false,
      line: `${server.label} at ${where} did not answer a query: ${first.message}. Fix the server or set ${server.envVar}.`,
    }
  }
  if (!LOCAL_HOSTS.has(server.address.host)) {
    return {
      ok: false,
      line: `${server.label} at ${where} is not reachable (${first.message}); it is not local, so start it there or fix ${server.envVar}.`,
    }
  }
  if (!server.installed()) return {ok: false, line: server.installHint}

  console.error(`${server.label} at ${where} is not answering (${first.message}): starting it`)
  const started = server.start()
  if (!started.ok && /already running/i.test(started.output)) {
    return {
      ok: false,
      line: `${server.label} is running but does not answer at ${where} (${first.message}): check the port it listens on, or set ${server.envVar}.`,
    }
  }
  if (!started.ok) {
    return {
      ok: false,
      line: `${server.label} is installed but could not be started${started.output ? `: ${started.output}` : ''}${process.getuid?.() === 0 ? '' : ' (try again as root)'}`,
    }
  }
  const deadline = Date.now() + START_WAIT_MS
  let last = first
  while (Date.now() < deadline) {
    await sleep(500)
    last = await server.probe(server.address)
    if (last.ok) return {ok: true, line: `${server.label} ${last.version} started, up at ${where}`}
    if (last.kind === 'auth') {
      return {
        ok: false,
        line: `${server.label} at ${where} started but rejected user "${server.address.user}": ${last.message}. Set ${server.envVar}=${server.exampleUrl}.`,
      }
    }
    if (!server.alive()) break
  }
  const log = server.logTail()
  return {
    ok: false,
    line: `${server.label} was started but does not answer at ${where} (${last.ok ? '' : last.message})${log ? `; its log ends:\n${log}` : ''}`,
  }
}

// --mysql-only: the quick start needs MariaDB alone.
const wanted = process.argv.includes('--mysql-only') ? servers.filter((server) => server.envVar === 'RAIOPS_TEST_MYSQL_URL') : servers
const results = await Promise.all(wanted.map((server) => ensure(server)))
for (const result of results) console.error(result.line)
process.exit(results.every((result) => result.ok) ? 0 : 1)
