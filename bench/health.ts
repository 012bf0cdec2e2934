// Wall time of `raiops rds:health --timeout 2` over 50 registered MariaDB RDS,
// 10 of them blackholed through the fault proxy (TCP accepted, nothing answered),
// against the floor of one probe's deadline (2 s): the run should last about as
// long as its slowest probe, whatever the number of dead servers. Prints JSON.
// Usage: npm run build && npm run bench:health [-- --runs 5]
import {spawn, spawnSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startFaultProxy, type FaultProxy} from '../test/support/fault-proxy.js'
import {createRaiFixture} from '../test/support/rai-fixture.js'
import {createMysqlUser, createTestDir, mysqlServer} from '../test/support/servers.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'bin', 'run.js')
const runsArg = process.argv.indexOf('--runs')
const runs = runsArg === -1 ? 5 : Number(process.argv[runsArg + 1])
const INSTANCES = 50
const BLACKHOLED = 10
const TIMEOUT_S = 2

const home = createTestDir('raiops-bench-health-')
const env: NodeJS.ProcessEnv = {
  ...process.env,
  RAIOPS_HOME: home.path,
  RAIOPS_DATABASE_URL: '',
  RAIOPS_MASTER_KEY: '',
  NO_COLOR: '1',
  CI: '1',
}
delete env.NODE_ENV

function cli(args: string[], input = ''): {status: number | null; stdout: string; stderr: string} {
  const result = spawnSync(process.execPath, [bin, ...args], {env, input, encoding: 'utf8'})
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

/** Runs the CLI asynchronously (for registering in parallel). */
function cliAsync(args: string[], input = ''): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {env, stdio: ['pipe', 'ignore', 'inherit']})
    child.on('error', reject)
    child.on('close', resolve)
    child.stdin.end(input)
  })
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const round = (n: number): number => Math.round(n * 100) / 100

const fixture = await createRaiFixture({engine: 'mysql', tenants: 2, usersPerTenant: 1, locationsPerTenant: 1})
const user = await createMysqlUser(fixture.database)
const proxies: FaultProxy[] = await Promise.all(
  Array.from({length: BLACKHOLED}, () => startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode: 'blackhole'})),
)
try {
  const init = cli(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`)
  const ports = [...Array.from({length: INSTANCES - BLACKHOLED}, () => mysqlServer.port), ...proxies.map((p) => p.port)]
  // Registered four at a time (each rds:add is one short transaction).
  for (let i = 0; i < ports.length; i += 4) {
    const codes = await Promise.all(
      ports
        .slice(i, i + 4)
        .map((port, j) =>
          cliAsync(
            [
              'rds:add',
              '--name',
              `bench-${i + j + 1}`,
              '--host',
              '127.0.0.1',
              '--port',
              String(port),
              '--username',
              user.user,
              '--password-stdin',
              '--rai-database',
              fixture.database,
              '--no-test',
            ],
            `${user.password}\n`,
          ),
        ),
    )
    if (codes.some((c) => c !== 0)) throw new Error('rds:add failed')
  }

  const samples: number[] = []
  let last: {counts: Record<string, number>; durationMs: number} | undefined
  for (let i = 0; i < runs + 1; i++) {
    const started = process.hrtime.bigint()
    const result = cli(['rds:health', '--timeout', String(TIMEOUT_S), '--json'])
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (result.status !== 4) throw new Error(`rds:health exited ${result.status}: ${result.stderr}`)
    last = JSON.parse(result.stdout)
    if (last?.counts.down !== BLACKHOLED || last.counts.healthy !== INSTANCES - BLACKHOLED) throw new Error(`unexpected counts ${JSON.stringify(last?.counts)}`)
    if (i > 0) samples.push(ms) // the first run warms the disk cache
  }
  const floorMs = TIMEOUT_S * 1000
  const figure = median(samples)
  console.log(
    JSON.stringify(
      {
        benchmark: 'health',
        command: `raiops rds:health --timeout ${TIMEOUT_S} (${INSTANCES} MariaDB RDS, ${BLACKHOLED} blackholed)`,
        runs,
        figure: {medianMs: round(figure), minMs: round(Math.min(...samples)), maxMs: round(Math.max(...samples))},
        floor: {what: 'one probe deadline (--timeout)', ms: floorMs},
        ratio: round(figure / floorMs),
        goal: 1.3,
        lastRun: {counts: last?.counts, probeWallMs: last?.durationMs},
      },
      null,
      2,
    ),
  )
} finally {
  await Promise.all(proxies.map((p) => p.close()))
  await user.drop()
  await fixture.drop()
  home.drop()
}
