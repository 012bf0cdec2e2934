// alerts:run's engine (runAlerts, in process, warm) on a local MariaDB control database: 20 rules
// over 200 RDS whose kinds report 10,000 live (firing) instances, then 2× and 4× as many.
// The kinds are the benchmark's own and return their samples from memory, so the figure is the
// engine's: the lease, the run's row, reading the rules, instances, silences and subscriptions,
// the state machine, the writes (last_eval_at of every instance, last_true_at of the active ones,
// transitions, outbox) in one transaction. Delivery is left out (nothing is due in a steady run).
// Queries per run are counted with knex's 'query' events.
// The floor, measured in the same run at each size: reading the same instance rows in one query
// and writing back their last_eval_at in one statement — the least any engine that keeps its
// state in the database must do per run.
// Prints one JSON document on stdout.
// Usage: npm run bench:alerts-run [-- --runs 7 --instances 10000 --scales 3]
import {z} from 'zod'

import {runAlerts} from '../src/lib/alerts/engine.js'
import {defineRuleKind, type ActiveSample} from '../src/lib/alerts/kind.js'
import type {RuleKindRegistry} from '../src/lib/alerts/kinds/index.js'
import {seedRoles} from '../src/lib/auth/seed.js'
import {benchControlDb, benchLog, cleanup, cleanUpOnSignals, median, ms1, numberArgument, ratio, stats, timed} from './support.js'

const runs = numberArgument('--runs', 7)
const base = numberArgument('--instances', 10_000)
const RULES = 20
const RDS = 200
const INTERVAL_MS = 5 * 60_000
const log = benchLog('alerts-run')
cleanUpOnSignals(log)

try {
  const {db, ctx} = await benchControlDb('raiops_bench_alerts', 60_000)
  const now0 = Date.parse('2026-12-01T00:00:00.000Z')
  await seedRoles(db, new Date(now0))

  // Each rule's samples: `perRule` label sets {rds, tenant} over the 200 RDS.
  let perRule = base / RULES
  const samples = (rule: number): ActiveSample[] =>
    Array.from({length: perRule}, (_, i) => ({
      labels: {rds: `rds-${(i + rule) % RDS}`, tenant: `tenant-${i}`},
      summary: `tenant-${i} on rds-${(i + rule) % RDS}: condition ${rule} holds`,
      value: i,
    }))
  const kinds: RuleKindRegistry = new Map(
    Array.from({length: RULES}, (_, rule) => {
      const kind = defineRuleKind({
        kind: `bench_${rule}`,
        description: 'a benchmark kind',
        labelNames: ['rds', 'tenant'],
        params: z.object({}).strict(),
        evaluate: async () => ({noData: false as const, active: samples(rule)}),
      })
      return [kind.kind, kind]
    }),
  )
  const at = new Date(now0)
  await db('alert_rules').insert(
    Array.from({length: RULES}, (_, rule) => ({
      name: `bench-rule-${rule}`,
      kind: `bench_${rule}`,
      params: '{}',
      for_ms: rule % 2 === 0 ? 0 : 5 * 60_000,
      keep_firing_for_ms: 0,
      severity: (['critical', 'warning', 'info'] as const)[rule % 3],
      labels: JSON.stringify({team: 'ops'}),
      no_data: 'nodata',
      on_error: 'error',
      description: null,
      enabled: true,
      builtin: false,
      created_by: 'bench',
      created_at: at,
      updated_at: at,
    })),
  )
  // An operator with one subscription to everything and one silence, so those paths are read and matched.
  await db('operators').insert({
    name: 'Bench',
    email: 'bench@example.com',
    password_hash: 'x',
    role: 'system_admin',
    is_active: true,
    failed_logins: 0,
    created_at: at,
    updated_at: at,
  })
  const operatorId = Number((await db('operators').first('id'))?.id)
  await db('alert_subscriptions').insert({
    operator_id: operatorId,
    channel: 'webhook',
    target: 'https://hooks.example/alerts',
    severities: null,
    rules: null,
    matchers: JSON.stringify(['team=ops']),
    send_resolved: true,
    enabled: true,
    created_by: 'bench',
    created_at: at,
    updated_at: at,
  })
  await db('alert_silences').insert({
    matchers: JSON.stringify(['tenant=tenant-0']),
    reason: 'benchmark silence',
    created_by: 'bench',
    starts_at: at,
    ends_at: new Date(now0 + 365 * 86_400_000),
    expired_at: null,
    created_at: at,
  })

  // Queries per run, and the time spent in each kind of statement (its first words).
  let queries = 0
  let spent = new Map<string, number>()
  const startedAt = new Map<string, number>()
  const sqlOf = new Map<string, string>()
  db.on('query', (q: {__knexQueryUid: string; sql: string}) => {
    queries++
    startedAt.set(q.__knexQueryUid, performance.now())
    sqlOf.set(q.__knexQueryUid, q.sql.replace(/\s+/g, ' ').slice(0, 48))
  })
  const end = (_: unknown, q: {__knexQueryUid: string}) => {
    const t0 = startedAt.get(q.__knexQueryUid)
    const sql = sqlOf.get(q.__knexQueryUid) ?? '?'
    if (t0 !== undefined) spent.set(sql, (spent.get(sql) ?? 0) + performance.now() - t0)
    startedAt.delete(q.__knexQueryUid)
    sqlOf.delete(q.__knexQueryUid)
  }
  db.on('query-response', end)
  db.on('query-error', end)
  const counted = async (fn: () => Promise<unknown>): Promise<{ms: number; queries: number; spent: Record<string, number>}> => {
    queries = 0
    spent = new Map()
    const ms = await timed(fn)
    return {ms, queries, spent: Object.fromEntries([...spent].filter(([, v]) => v >= 5).map(([k, v]) => [k, ms1(v)]))}
  }

  let tick = 0
  const nextNow = (): Date => new Date(now0 + ++tick * INTERVAL_MS)
  const oneRun = async () => {
    const result = await runAlerts(ctx, {now: nextNow(), intervalMs: INTERVAL_MS, kinds, deliver: false})
    if (result.rules.errors.length > 0) throw new Error(`rule errors: ${JSON.stringify(result.rules.errors)}`)
    return result
  }
  const ruleIds = ((await db('alert_rules').pluck('id')) as number[]).map(Number)
  const floor = async (): Promise<void> => {
    const now = nextNow()
    await db('alert_instances').whereIn('rule_id', ruleIds).select('*')
    await db('alert_instances').whereIn('rule_id', ruleIds).update({last_eval_at: now})
  }

  const sizes = [base, base * 2, base * 4].slice(0, numberArgument('--scales', 3))
  const report: Array<Record<string, unknown>> = []
  for (const instances of sizes) {
    perRule = instances / RULES
    log(`${instances} instances: first run (creates the new ones), then warm-up`)
    const first = await counted(oneRun)
    await oneRun() // the rules with a `for` fire
    const steady = await oneRun()
    if (steady.transitions.length > 0) throw new Error(`not steady: ${steady.transitions.length} transitions`)
    await floor()
    const figure: number[] = []
    const floors: number[] = []
    const figureQueries: number[] = []
    let lastSpent: Record<string, number> = {}
    for (let i = 0; i < runs; i++) {
      log(`${instances} instances: run ${i + 1}/${runs}`)
      const measured = await counted(oneRun)
      figure.push(measured.ms)
      figureQueries.push(measured.queries)
      lastSpent = measured.spent
      floors.push((await counted(floor)).ms)
    }
    const firing = Number((await db('alert_instances').where({state: 'firing'}).count({n: '*'}).first())?.n)
    report.push({
      instances,
      firing,
      figure: {...stats(figure), queriesPerRun: median(figureQueries), queryMsOfLastRun: lastSpent},
      floor: stats(floors),
      ratio: ratio(median(figure) / median(floors)),
      firstRun: {ms: ms1(first.ms), queries: first.queries, what: 'the run that inserts the new instances and their transitions and outbox rows'},
    })
  }

  const [one] = report as Array<{figure: {medianMs: number}}>
  console.log(
    JSON.stringify(
      {
        benchmark: 'alerts-run',
        what: `runAlerts in process (warm, delivery off) on local MariaDB: ${RULES} rules over ${RDS} RDS, every instance firing and evaluated every run (steady state: no transitions)`,
        runs,
        figure: {instances: base, medianMs: one.figure.medianMs, goal: '≤ 1000 ms at 10,000 instances'},
        floor: 'reading the instance rows of the enabled rules in one query and writing back their last_eval_at in one UPDATE',
        sizes: report,
        note: 'queriesPerRun should be the same at every size: instances are read in one query and written in statements batched by up to 30,000 bound values (last_true_at of the active ones: one statement per 29,990 ids)',
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
