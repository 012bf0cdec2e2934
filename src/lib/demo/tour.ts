import {DEMO_REPORT_MONTHS} from './billing-history.js'
import type {DemoResult} from './build.js'

/**
 * What `raiops demo` shows after it builds: a first day of an operator, one
 * command at a time, each run for real on the demo. A feature adds itself to
 * the demo by adding a step here (and, where it has state, data to the fleet).
 */
export interface TourStep {
  /** What the step answers, as a heading. */
  title: string
  /** Why an operator runs it, and what to look at in its output. */
  about: string
  /** The raiops arguments (the command and its flags). */
  args: string[]
  /** The exit code this step ends with on the demo when it is not 0, and why (a down RDS makes health exit 4). */
  expectedExit?: {code: number; why: string}
}

type Facts = Pick<DemoResult, 'rds' | 'sharedEmails' | 'supportTenant' | 'billing' | 'failedJob'>

function names(facts: Facts) {
  const master = facts.rds.find((r) => r.master)?.name ?? facts.rds[0].name
  const draining = facts.rds.find((r) => r.state === 'draining')?.name ?? null
  const down = facts.rds.find((r) => r.missing)?.name ?? null
  const back = facts.rds.find((r) => r.outage)?.name ?? null
  return {master, draining, down, back}
}

/**
 * The tenant creation that failed while its server was down: the job, the
 * server (back, and locked during the outage) put online, the job retried to
 * done. A tour run again finds it done and only shows it.
 */
function outageSteps(facts: Facts): TourStep[] {
  const job = facts.failedJob
  if (job === null) return []
  const id = String(job.id)
  if (job.state !== 'failed') {
    return [
      {
        title: 'The creation that failed during an outage',
        about: `Sent to ${job.rds} while it was down, it failed at its tenant step; an earlier tour put ${job.rds} back online and \`job:retry\` finished it from that step.`,
        args: ['job:show', id],
      },
    ]
  }
  return [
    {
      title: 'A creation that failed during an outage',
      about: `Sent to ${job.rds} while it was down, before any health check said so: the job failed at its tenant step, having written nothing there, and waits with its slot reserved. ${job.rds} is back now, but an operator locked it during the outage, and a locked server takes no change: \`job:retry\` would fail again, naming \`rds:online\`.`,
      args: ['job:show', id],
    },
    {
      title: 'The server is back: put it online',
      about: `${job.rds} answers again and its data is intact, so the lock comes off (audited); placement counts it again.`,
      args: ['rds:online', job.rds],
    },
    {
      title: 'Retry the job',
      about:
        'From the step that failed, one line per step: the place step is done and not run again; nothing is written twice. Had it failed again, job:retry would exit as tenant:create does (2 for something to fix, 1 for a server still unreachable).',
      args: ['job:retry', id],
    },
  ]
}

/** What cron's alert runs found before the operator arrived: the rds-down alerts of the servers its health checks saw down. */
function alertSteps(facts: Facts): TourStep[] {
  const {down, back} = names(facts)
  const servers = [down, back].filter((name): name is string => name !== null)
  if (servers.length === 0) return []
  const toured = touredBefore(facts)
  const firing = toured ? servers.filter((name) => name !== back) : servers
  return [
    {
      title: 'What has fired while you were away?',
      about: `What cron runs every 5 minutes: every alert rule evaluated against what raiops last recorded, each alert moved inactive → pending → firing → resolved, every change recorded. Before you arrived, cron's health checks found ${servers.join(' and ')} down at every check for more than 5 minutes, so rule rds-down fired for ${servers.length === 1 ? 'it' : 'each'} (critical)${toured && back ? `; an earlier tour saw ${back} back and its alert resolve` : '; this run finds them still down in those records'}. It exits 0 whatever fires (--fail-on makes firing exit 4, for cron and CI).`,
      args: ['alerts:run'],
    },
    {
      title: 'What is firing now?',
      about: `The alerts as the last run left them, most severe first, each with since when and why (its summary)${firing.length > 0 ? `: rds-down for ${firing.join(' and ')}, then` : ':'} ${toured ? 'what else fires' : 'the failed job, a stale sync and the billing that needs a call'}. The muted column names what keeps an alert from being notified: a silence, or the rds-down alert of its server (a server that is down pages once, not once per sync).`,
      args: ['alerts:list'],
    },
  ]
}

/** Whether a tour ran on this demo before: its failed job is done. */
function touredBefore(facts: Facts): boolean {
  return facts.failedJob !== null && facts.failedJob.state !== 'failed'
}

/** The alert of the server still down silenced; the one of the server back resolved. */
function alertFollowUpSteps(facts: Facts): TourStep[] {
  const {down, back} = names(facts)
  const toured = touredBefore(facts)
  const steps: TourStep[] = []
  if (down !== null) {
    steps.push({
      title: `Silence ${down} while it is rebuilt`,
      about: `Its RAI database is gone and will take hours to restore: a silence mutes every alert whose labels match (here rds=${down}) for 2 hours, with a reason, audited. Muted alerts are still evaluated and recorded; they are not notified, nor their resolution.`,
      args: ['alerts:silence', '--matcher', `rds=${down}`, '--reason', `${down} is being restored from its backup`, '--for', '2h'],
    })
  }
  if (back !== null) {
    steps.push(
      {
        title: 'Run the alerts again',
        about: toured
          ? `An earlier tour saw rds-down for ${back} resolve once a health check found it back; this run changes what has changed since.${down ? ` rds-down for ${down} still fires, muted by the silence.` : ''}`
          : `The health check above found ${back} back (healthy), so its rds-down alert resolves; the job retried above resolves jobs-failed, and sync:all the stale sync.${down ? ` rds-down for ${down} still fires, and sync:all's failure there fires sync-failing: both muted by the silence.` : ''}`,
        args: ['alerts:run'],
      },
      {
        title: 'The server alerts, resolved ones too',
        about: `${down ? `${down}: firing, muted by the silence (the muted column). ` : ''}${back}: resolved. \`--all\` adds the alerts resolved in the last 24 hours.`,
        args: ['alerts:list', '--rule', 'rds-down', '--all'],
      },
      {
        title: 'What changed, and when',
        about: `Every change of the rds-down alerts, newest first: pending at cron's first health check that found the servers down, firing 6 minutes later (its rule's for: 5m), then ${back} resolved. A change made while a silence held names it (muted).`,
        args: ['alerts:history', '--rule', 'rds-down'],
      },
    )
  }
  return steps
}

export function demoTour(facts: Facts): TourStep[] {
  const {master, draining, down, back} = names(facts)
  const sharedEmail = facts.sharedEmails[0]
  return [
    {
      title: 'Which database servers does raiops know?',
      about: `The registry: ${facts.rds.length} RDS, their passwords (none here: SQLite) stored encrypted. ${master} is the master, holding the routing directory${draining ? `; ${draining} is draining: it keeps its tenants and takes no new ones` : ''}.`,
      args: ['rds:list'],
    },
    ...alertSteps(facts),
    {
      title: 'Are they healthy?',
      about: `Every server is probed at once, each with its own deadline, and the outcome recorded (what rds-down reads).${down ? ` The RAI database of ${down} is gone, so it is down,` : ''}${back ? ` ${back} answers again (it is locked: see below),` : ''} and the exit code says so, for cron and CI.`,
      args: ['rds:health'],
      expectedExit: down ? {code: 4, why: `${down} is down: rds:health exits 4 when any RDS is at or below --fail-on (default: down)`} : undefined,
    },
    {
      title: 'Bring the tenants and the routing directory into raiops',
      about: `What cron runs every few minutes: the tenants of every RDS into the registry, and the routing directory of the master into the cache. A server that is down does not stop the others. ${master}'s tenants were registered two years ago (they have a billing history), so they are updated; the others are new.`,
      args: ['sync:all'],
      expectedExit: down ? {code: 3, why: `partial: ${down} could not be read; everything else was synced, and the next run catches up`} : undefined,
    },
    {
      title: 'The overview',
      about:
        'One screen: the fleet, how fresh the syncs are, the alerts (when alerts:run last ran, what fires unmuted by severity), the audit chain; its exit code says FAIL too, for cron and CI.',
      args: ['status'],
      expectedExit: down ? {code: 4, why: `${down} is down, so the overview is FAIL: status exits 4 (--fail-on, default fail)`} : undefined,
    },
    {
      title: 'Where would a new tenant go?',
      about: `Placement: only servers online, active and not down take new tenants${draining ? ` (${draining} is draining)` : ''}${down ? `, ${down} is down` : ''}; among them the least loaded, against RAIOPS_PLACEMENT_CAPACITY, health then latency breaking ties.`,
      args: ['placement:explain', '--for-locations', '2'],
    },
    {
      title: 'Create a tenant, as a job',
      about:
        'One line per step: placed and its slot reserved, the tenant row, its owner (no password here: unusable until reset), its locations, the routing entry on the master, the registry row, the subscription, the ghost users, then every row read back and compared. Killed part-way, `job:retry` resumes it without writing anything twice.',
      args: [
        'tenant:create',
        '--name',
        'Harbor Bistro',
        '--owner-name',
        'Hana Li',
        '--owner-email',
        'hana@harbor-bistro.example',
        '--owner-without-password',
        '--locations',
        'Main St,Airport',
        '--plan',
        'starter',
        '--quantity-from',
        'locations',
      ],
    },
    ...outageSteps(facts),
    ...alertFollowUpSteps(facts),
    {
      title: 'Which tenants need attention?',
      about:
        "The tenant registry, least healthy first: each tenant has a customer health score (0–100) from its status, active users, locations, recent activity, its RDS and how fresh raiops' copy is. Filters, search and paging work on 100,000 tenants.",
      args: ['tenant:list', '--sort', 'health', '--limit', '8'],
    },
    {
      title: 'One tenant, live from its RDS',
      about: `${facts.supportTenant}: the registry row, then what its RDS holds now (users by status, ghost users, locations, the latest activity), its routing entries on the master checked against its users, and the health score, signal by signal.`,
      args: ['tenant:show', facts.supportTenant],
    },
    {
      title: 'What do tenants subscribe to?',
      about:
        'The subscription plans: each price per term and per month, in its own currency (amounts are stored exactly, in minor units), with what it charges per location beyond the ones included. A price change makes a new version; subscribers keep theirs.',
      args: ['plan:list'],
    },
    {
      title: 'Revenue, month by month',
      about: `MRR rolled forward from the billing ledger of ${master}'s subscribers, the last ${DEMO_REPORT_MONTHS} months in USD: start + new + expansion + reactivation − contraction − churn = end, then ARR, customers, churn rates, ARPA and a bar chart of MRR. Each currency is reported on its own, never summed: without --currency, EUR follows; --from ${facts.billing.from} shows the two years. The policies it counts by head the report.`,
      args: ['billing:report', '--from', facts.billing.reportFrom, '--to', facts.billing.to, '--by', 'month', '--currency', 'USD'],
    },
    {
      title: "Why did this tenant's MRR move?",
      about: `${facts.billing.showcase}: every change to its subscription with the arithmetic behind its MRR, and the movement each one made: new, expansion, contraction, churn when it left, reactivation when it came back, and an expansion recorded two weeks after it took effect. \`billing:show\` lists the same events with when each was recorded (that one backdated) and every payment, a declined card among them.`,
      args: ['billing:explain', facts.billing.showcase],
    },
    {
      title: 'Which subscriptions need a call?',
      about:
        'Periods unpaid past their grace days, a declined card, a trial about to end, a large contraction: each with the amount and what to do. Its exit code says there is something to act on, for cron and CI.',
      args: ['billing:alerts'],
      expectedExit: {
        code: 4,
        why: 'billing:alerts exits 4 when there are alerts: here a subscriber stopped paying, a card was declined, a trial ends and a tenant shrank',
      },
    },
    {
      title: 'Where does this person have a user?',
      about: `${sharedEmail} is an accountant's address, a user of several tenants on different servers: the routing directory knows them all.`,
      args: ['user:find', sharedEmail],
    },
    {
      title: 'Suspend them in one tenant',
      about: `The plan first (which rows on which servers change), then the user's row on the RDS, then the routing entry on the master, then the audit trail with the reason. Run again, it changes nothing.`,
      args: ['user:suspend', sharedEmail, '--tenant', facts.supportTenant, '--reason', 'access review: left the firm', '--yes'],
    },
    {
      title: '… and reactivate them',
      about: 'The same path back: the user active on the RDS, the routing entry active on the master (it would stay suspended while the tenant itself is).',
      args: ['user:reactivate', sharedEmail, '--tenant', facts.supportTenant, '--reason', 'access review: still with the firm', '--yes'],
    },
    {
      title: 'Is their password the same everywhere?',
      about: `RAI signs ${sharedEmail} in with the routing directory's hashes: on one tenant the hash has drifted from the others. Tenants in one group share a hash; no hash is ever shown.`,
      args: ['password:check', sharedEmail],
      expectedExit: {code: 4, why: "out of sync: password:check exits 4 when a person's tenants do not share one password, for cron and CI"},
    },
    {
      title: 'One password on every tenant',
      about: `The hash ${sharedEmail} uses on ${facts.supportTenant} copied to every other tenant and routing entry: no plaintext at all, a plan first, only the rows that differ written, audited without the hash.`,
      args: ['password:sync', sharedEmail, '--from-tenant', facts.supportTenant, '--reason', 'one password on every tenant, SUP-1043', '--yes'],
    },
    {
      title: 'A ghost user on every tenant, for support',
      about:
        "One hidden user per operator allowed to impersonate, on every tenant: flagged is_ghost (never counted as the customer's), no usable password, no routing entry. One INSERT … SELECT per operator and server, whatever the number of tenants.",
      args: ['sync:ghost-users'],
      expectedExit: down ? {code: 3, why: `partial: ${down} could not be read; every other tenant has its ghost user`} : undefined,
    },
    {
      title: 'Run again: nothing to do',
      about: 'Cron runs it like the other syncs: a second run finds every ghost in place and changes nothing.',
      args: ['sync:ghost-users'],
      expectedExit: down ? {code: 3, why: `${down} still cannot be read; nothing changed anywhere else`} : undefined,
    },
    {
      title: 'Open a tenant for support',
      about: `A single-use link into the tenant's RAI application, signed by raiops, with your reason and ticket in it and in the audit trail; it names your ghost user there, whom the application signs in as.`,
      args: ['tenant:impersonate', facts.supportTenant, '--reason', 'customer cannot see the March invoices', '--ticket', 'SUP-1042'],
    },
    {
      title: 'Who did what?',
      about:
        'Every change made above, in the hash-chained audit trail: the setup, the registrations, the drain, the billing history, the suspension and its reversal, the impersonation with its reason and ticket.',
      args: ['audit:list', '--limit', '12'],
    },
    {
      title: 'Has anyone tampered with the trail?',
      about: 'Each entry carries the hash of the one before it: an edited or deleted row breaks the chain, and audit:verify names where.',
      args: ['audit:verify'],
    },
  ]
}

/** Commands worth trying next on the demo, each a complete argument list. */
export function demoTryNext(facts: Facts): string[][] {
  const {master} = names(facts)
  const lines = [
    ['rds:show', master],
    ['rds:health', '--history'],
    ['sync:status'],
    ['routing:lookup', facts.sharedEmails[1] ?? facts.sharedEmails[0], '--live'],
    ['tenant:list', '--search', 'bakery'],
    ['billing:show', facts.billing.showcase],
    ['audit:list', '--action', 'tenant.impersonate', '--format', 'json'],
  ]
  if (facts.failedJob !== null) lines.push(['job:list'])
  lines.push(['tenant:impersonation-key'], ['--help'])
  return lines
}
