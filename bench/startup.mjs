#!/usr/bin/env node
// Start-up cost of the CLI against the floor of starting Node at all.
// Prints JSON: the median wall time of `node -e 0`, `raiops --version` and
// `raiops rds:list` (SQLite control database with a few RDS rows), and their ratios.
// Usage: npm run build && node bench/startup.mjs [--runs 20]
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'bin', 'run.js')
const runsArg = process.argv.indexOf('--runs')
const runs = runsArg === -1 ? 20 : Number(process.argv[runsArg + 1])
const warmup = 3

const home = mkdtempSync(join(tmpdir(), 'raiops-bench-'))
const env = {...process.env, RAIOPS_HOME: home, NO_COLOR: '1', RAIOPS_DATABASE_URL: '', RAIOPS_MASTER_KEY: ''}

function run(args, input) {
  const result = spawnSync(process.execPath, args, {env, input, encoding: 'utf8'})
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`)
}

run([bin, 'init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')
for (let i = 1; i <= 5; i++) run([bin, 'rds:add', '--name', `rds-${i}`, '--engine', 'sqlite', '--file', `/tmp/rai-${i}.sqlite`, '--no-test'])

const subjects = {
  node: [['-e', '0']],
  version: [[bin, '--version']],
  rdsList: [[bin, 'rds:list']],
}

function time(args) {
  const started = process.hrtime.bigint()
  run(args)
  return Number(process.hrtime.bigint() - started) / 1e6
}

const samples = {node: [], version: [], rdsList: []}
for (const [args] of Object.values(subjects)) for (let i = 0; i < warmup; i++) time(args)
// Interleaved, so drift of a noisy machine touches every subject alike.
for (let i = 0; i < runs; i++) for (const [name, [args]] of Object.entries(subjects)) samples[name].push(time(args))

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const round = (n) => Math.round(n * 10) / 10
const floor = median(samples.node)
const result = {
  benchmark: 'startup',
  runs,
  floor: {command: 'node -e 0', medianMs: round(floor)},
  version: {command: 'raiops --version', medianMs: round(median(samples.version)), ratio: round(median(samples.version) / floor), goal: 3},
  rdsList: {
    command: 'raiops rds:list (SQLite, 5 rows)',
    medianMs: round(median(samples.rdsList)),
    ratio: round(median(samples.rdsList) / floor),
    goal: 5,
  },
}
console.log(JSON.stringify(result, null, 2))
rmSync(home, {recursive: true, force: true})
