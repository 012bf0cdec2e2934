import {TENANT_MASTER_TABLE} from '../db/tables.js'
import {RaiopsError, ExitCode} from '../errors/index.js'
import {whereCaseless} from '../user/fleet-users.js'
import {masterConnection, rdsConnection, type FleetContext, type RegistryMemo} from './fleet.js'
import {openOwnerHash, type TenantCreateInput} from './input.js'

/**
 * The last check of a tenant creation, before it is declared done: every row
 * the job meant to write is read back from the server that holds it (the
 * tenant's RDS, the master, the control database) and compared with what it
 * meant to write, as a data diff: the values, and that each exists exactly
 * once. Any difference fails the step and names it (never a hash).
 */

export interface TenantDifference {
  /** Where: `rds:tenants`, `master:user_email_routing`, `control:tenant_master`… */
  where: string
  what: string
  expected: string
  actual: string
}

export interface TenantVerification {
  rows: number
  ghosts: number
  differences: TenantDifference[]
}

/** A creation whose rows are not what it meant to write: the job fails at verify and says what differs. */
export class TenantMismatchError extends RaiopsError {
  constructor(readonly differences: TenantDifference[]) {
    super(
      'TENANT_MISMATCH',
      ExitCode.badInput,
      `the tenant as written differs from what was meant: ${differences
        .slice(0, 5)
        .map((d) => `${d.where} ${d.what}: expected ${d.expected}, found ${d.actual}`)
        .join('; ')}${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}`,
      {hint: 'see `raiops job:show`; fix the rows or cancel the job (`raiops job:cancel`), then retry'},
    )
  }
}

export interface VerifyInput {
  input: TenantCreateInput
  rdsId: number
  tenantId: number
  userId: number
  routingId: number
  tenantMasterId: number
  /** Ghost users the tenant should have. */
  ghosts: number
  /** The registry rows the job's steps already read (StepRun.memo). */
  memo?: RegistryMemo
}

const show = (value: unknown): string => (value === null || value === undefined ? 'nothing' : JSON.stringify(value))

/** Reads back and compares; throws TenantMismatchError listing every difference. */
export async function verifyTenant(ctx: FleetContext, v: VerifyInput): Promise<TenantVerification> {
  const {input} = v
  const diffs: TenantDifference[] = []
  const expect = (where: string, what: string, expected: unknown, actual: unknown) => {
    if (show(expected) !== show(actual)) diffs.push({where, what, expected: show(expected), actual: show(actual)})
  }
  let rows = 0
  const {db} = await rdsConnection(ctx, v.rdsId, {memo: v.memo})
  const tenants = (await whereCaseless(db, db('tenants'), 'name', input.name).select(
    'id',
    'name',
    'primary_contact_name',
    'primary_contact_email',
    'status',
  )) as Array<Record<string, unknown>>
  expect('rds:tenants', `rows named "${input.name}"`, 1, tenants.length)
  const t = tenants.find((row) => Number(row.id) === v.tenantId)
  expect(
    'rds:tenants',
    `row ${v.tenantId}`,
    {name: input.name, contactName: input.contactName, contactEmail: input.contactEmail, status: 'active'},
    t && {
      name: t.name,
      contactName: t.primary_contact_name,
      contactEmail: t.primary_contact_email,
      status: t.status,
    },
  )
  rows += tenants.length

  const users = (await db('users').where({tenant_id: v.tenantId}).select('id', 'name', 'email', 'password', 'status', 'is_ghost')) as Array<
    Record<string, unknown>
  >
  const owners = users.filter((u) => String(u.email).toLowerCase() === input.owner.email)
  expect('rds:users', `users ${input.owner.email} of the tenant`, 1, owners.length)
  const o = owners.find((u) => Number(u.id) === v.userId)
  expect(
    'rds:users',
    `user ${v.userId}`,
    {name: input.owner.name, status: 'active', ghost: false},
    o && {name: o.name, status: o.status, ghost: Boolean(Number(o.is_ghost))},
  )
  const hash = openOwnerHash(await ctx.keyring(), input)
  const stored = o ? String(o.password) : null
  if (o && (hash === null ? !stored?.startsWith('!') : stored !== hash))
    diffs.push({where: 'rds:users', what: `user ${v.userId}'s password`, expected: hash === null ? 'unusable' : 'the prepared hash', actual: 'another value'})
  if (hash !== null && stored !== null && !stored.startsWith('$2y$'))
    diffs.push({where: 'rds:users', what: 'hash format', expected: '$2y$', actual: stored.slice(0, 4)})
  const ghostUsers = users.filter((u) => Boolean(Number(u.is_ghost)))
  expect('rds:users', 'ghost users of the tenant', v.ghosts, ghostUsers.length)
  const ghostEmails = ghostUsers.map((u) => String(u.email).toLowerCase())
  expect('rds:users', 'ghost users, each once', ghostEmails.length, new Set(ghostEmails).size)
  expect('rds:users', 'other users of the tenant', 0, users.length - owners.length - ghostUsers.length)
  rows += users.length

  const locations = (await db('locations').where({tenant_id: v.tenantId}).select('name')) as Array<{name: string}>
  expect('rds:locations', 'names', [...input.locations].sort(), locations.map((l) => l.name).sort())
  rows += locations.length

  const {db: master} = await masterConnection(ctx, {memo: v.memo})
  const routes = (await master('user_email_routing')
    .where({tenant_id: v.tenantId, rds_instance_id: v.rdsId})
    .select('id', 'email', 'user_id', 'password_hash', 'status')) as Array<Record<string, unknown>>
  expect('master:user_email_routing', `entries of tenant ${v.tenantId}`, 1, routes.length)
  const r = routes.find((row) => Number(row.id) === v.routingId)
  expect(
    'master:user_email_routing',
    `entry ${v.routingId}`,
    {email: input.owner.email, userId: v.userId, status: 'active'},
    r && {
      email: String(r.email).toLowerCase(),
      userId: Number(r.user_id),
      status: r.status,
    },
  )
  if (r && stored !== null && r.password_hash !== stored)
    diffs.push({where: 'master:user_email_routing', what: `entry ${v.routingId}'s hash`, expected: "the owner's", actual: 'another value'})
  rows += routes.length

  const registered = (await ctx.db(TENANT_MASTER_TABLE).where({rds_instance_id: v.rdsId, remote_tenant_id: v.tenantId}).select('id', 'name')) as Array<{
    id: number
    name: string
  }>
  expect(
    'control:tenant_master',
    `rows for ${v.rdsId}:${v.tenantId}`,
    [{id: v.tenantMasterId, name: input.name}],
    registered.map((x) => ({id: Number(x.id), name: x.name})),
  )
  rows += registered.length
  if (input.plan !== null) {
    const billing = await ctx
      .db('tenant_billing as b')
      .leftJoin('subscription_plans as p', 'p.id', 'b.plan_id')
      .where('b.tenant_master_id', v.tenantMasterId)
      .first('p.code', 'b.status')
    expect('control:tenant_billing', 'plan', input.plan.code.toLowerCase(), billing?.code?.toLowerCase() ?? null)
    rows += billing ? 1 : 0
  }
  if (diffs.length > 0) throw new TenantMismatchError(diffs)
  return {rows, ghosts: ghostUsers.length, differences: []}
}
