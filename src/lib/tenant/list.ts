import type {Knex} from 'knex'
import {z} from 'zod'

import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {RDS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {toIso, toNumberOrNull} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {findRds} from '../rds/repository.js'
import {LIKE_ESCAPE, likeContains, searchKey} from '../text/search.js'

/** What tenant:list sorts by; each has an index on tenant_master ending in the id. */
export const TENANT_SORTS = ['name', 'users', 'locations', 'health', 'refreshed'] as const
export type TenantSort = (typeof TENANT_SORTS)[number]

export const TENANT_LIST_DEFAULT_LIMIT = 50
export const TENANT_LIST_MAX_LIMIT = 1000
/** Rows read per query when every match is streamed (`tenantBatches`). */
export const TENANT_STREAM_BATCH = 2000

type KeyKind = 'text' | 'int' | 'time'

/**
 * The column behind each sort. Nullable ones (no score yet, never refreshed)
 * put their NULLs last in either direction, on every engine: the non-NULL
 * values are read through the index, then the NULLs by id.
 */
const SORT_KEYS: Record<TenantSort, {column: string; nullable: boolean; kind: KeyKind}> = {
  name: {column: 't.name', nullable: false, kind: 'text'},
  users: {column: 't.cached_user_count', nullable: false, kind: 'int'},
  locations: {column: 't.cached_location_count', nullable: false, kind: 'int'},
  health: {column: 't.health_score', nullable: true, kind: 'int'},
  refreshed: {column: 't.cache_refreshed_at', nullable: true, kind: 'time'},
}

/** The filters; all that are given must match. */
export interface TenantFilterInput {
  /** RDS names or ids. */
  rds?: readonly string[]
  status?: readonly string[]
  /** Text in the name, contact name or contact email, ignoring case and accents. */
  search?: string
  /** Only tenants gone upstream. */
  missing?: boolean
  /** Only tenants whose cache is older than this many ms, or never refreshed. */
  staleMs?: number
  minUsers?: number
  maxUsers?: number
  minHealth?: number
  maxHealth?: number
}

export interface TenantOrder {
  sort: TenantSort
  desc: boolean
}

export interface TenantListInput extends TenantFilterInput, TenantOrder {
  limit: number
  /** The cursor a previous page returned as `next`. */
  after?: string
  /** A page number (1-based), by offset. */
  page?: number
}

/** A tenant as tenant:list shows it. */
export interface TenantListRow {
  /** The tenant_master id. */
  id: number
  /** RDS:REMOTE_TENANT_ID, as every command takes a tenant. */
  tenant: string
  rdsId: number
  /** The RDS's name (null if its row is gone). */
  rds: string | null
  remoteTenantId: number
  name: string
  status: string | null
  contactName: string | null
  contactEmail: string | null
  /** Non-ghost users, as of the last refresh. */
  users: number
  activeUsers: number | null
  ghostUsers: number | null
  locations: number
  /** The customer health score, 0–100; null until a refresh computed it. */
  health: number | null
  lastActivityAt: string | null
  refreshedAt: string | null
  /** When a sync found it gone upstream; null while it is there. */
  missingSince: string | null
}

/** The matches as a whole, by aggregate SQL over the same filter. */
export interface TenantListSummary {
  matching: number
  /** How many RDS the matches are on. */
  rds: number
  /** Matches gone upstream. */
  missing: number
  /** Matches never refreshed. */
  neverRefreshed: number
  oldestRefreshedAt: string | null
  newestRefreshedAt: string | null
}

export interface TenantListResult {
  tenants: TenantListRow[]
  summary: TenantListSummary
  sort: TenantSort
  desc: boolean
  limit: number
  /** The page number asked for (--page), else null. */
  page: number | null
  /** The cursor of the next page (give it to --after), null on the last page. */
  next: string | null
}

/** The filters resolved: RDS looked up, the search as a LIKE pattern, the stale bound as a time. */
interface TenantFilter {
  rdsIds?: number[]
  statuses?: string[]
  pattern?: string
  missing: boolean
  staleBefore?: Date
  minUsers?: number
  maxUsers?: number
  minHealth?: number
  maxHealth?: number
}

function checkRange(min: number | undefined, max: number | undefined, name: string, bound: number): void {
  for (const [flag, value] of [
    [`--min-${name}`, min],
    [`--max-${name}`, max],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > bound))
      throw new UserError(`${flag} must be a whole number from 0 to ${bound}, not ${value}`)
  }
  if (min !== undefined && max !== undefined && min > max)
    throw new UserError(`--min-${name} ${min} is above --max-${name} ${max}: no tenant can match`, {hint: `give a --min-${name} at most --max-${name}`})
}

/** Checks the filters and resolves them; an unknown RDS is NotFoundError, a bad range or empty search UserError (both exit 2). */
async function tenantFilter(ctx: Pick<OpsContext, 'db' | 'now'>, input: TenantFilterInput): Promise<TenantFilter> {
  checkRange(input.minUsers, input.maxUsers, 'users', 2_147_483_647)
  checkRange(input.minHealth, input.maxHealth, 'health', 100)
  let pattern: string | undefined
  if (input.search !== undefined) {
    if (searchKey(input.search) === '') throw new UserError('--search needs some text to look for', {hint: 'give part of a name, contact name or email'})
    pattern = likeContains(input.search)
  }
  let rdsIds: number[] | undefined
  if (input.rds !== undefined && input.rds.length > 0) {
    rdsIds = []
    for (const ref of input.rds) {
      // An id past 32 bits names no RDS (and PostgreSQL would refuse to compare it).
      const named = ref.trim() !== '' && !(/^\d+$/.test(ref.trim()) && Number(ref.trim()) > 2_147_483_647)
      const rds = named ? await findRds(ctx.db, ref) : undefined
      if (!rds) throw new NotFoundError(`no RDS named or numbered "${ref.trim()}"`, {hint: 'see `raiops rds:list`'})
      rdsIds.push(Number(rds.id))
    }
  }
  const statuses = input.status?.map((s) => s.trim()).filter((s) => s !== '')
  if (input.status !== undefined && input.status.length > 0 && statuses?.length === 0) throw new UserError('--status needs a status (as active or suspended)')
  return {
    rdsIds,
    statuses: statuses && statuses.length > 0 ? statuses : undefined,
    pattern,
    missing: Boolean(input.missing),
    staleBefore: input.staleMs === undefined ? undefined : new Date(ctx.now().getTime() - input.staleMs),
    minUsers: input.minUsers,
    maxUsers: input.maxUsers,
    minHealth: input.minHealth,
    maxHealth: input.maxHealth,
  }
}

function applyFilter<Q extends Knex.QueryBuilder>(query: Q, f: TenantFilter): Q {
  if (f.rdsIds) query.whereIn('t.rds_instance_id', f.rdsIds)
  if (f.statuses) query.whereIn('t.status', f.statuses)
  if (f.pattern !== undefined) query.whereRaw('t.search_text LIKE ? ESCAPE ?', [f.pattern, LIKE_ESCAPE])
  if (f.missing) query.whereNotNull('t.remote_missing_at')
  if (f.staleBefore) {
    const before = f.staleBefore
    query.where((w) => void w.whereNull('t.cache_refreshed_at').orWhere('t.cache_refreshed_at', '<', before))
  }
  if (f.minUsers !== undefined) query.where('t.cached_user_count', '>=', f.minUsers)
  if (f.maxUsers !== undefined) query.where('t.cached_user_count', '<=', f.maxUsers)
  if (f.minHealth !== undefined) query.where('t.health_score', '>=', f.minHealth)
  if (f.maxHealth !== undefined) query.where('t.health_score', '<=', f.maxHealth)
  return query
}

// ---------------------------------------------------------------------------
// Cursors: the sort, its direction, and the last row's key and id, as base64url JSON.

type Key = string | number | null

interface Cursor {
  sort: TenantSort
  desc: boolean
  key: Key
  id: number
}

const CURSOR = z.object({
  v: z.literal(1),
  s: z.enum(TENANT_SORTS),
  d: z.boolean(),
  k: z.union([z.string().max(1024), z.number(), z.null()]),
  i: z.number().int().min(1).max(2_147_483_647),
})

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({v: 1, s: cursor.sort, d: cursor.desc, k: cursor.key, i: cursor.id})).toString('base64url')
}

const describeOrder = (order: TenantOrder) => `--sort ${order.sort}${order.desc ? ' --desc' : ''}`

function keyFits(kind: KeyKind, nullable: boolean, key: Key): boolean {
  if (key === null) return nullable
  if (kind === 'text') return typeof key === 'string'
  if (kind === 'int') return typeof key === 'number' && Number.isSafeInteger(key)
  return typeof key === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(key) && !Number.isNaN(Date.parse(key))
}

/** The cursor `text` (from --after), for a list in `order`: one raiops did not give, or one of another order, is bad input. */
function decodeCursor(text: string, order: TenantOrder): Cursor {
  const bad = () =>
    new UserError('--after is not a cursor tenant:list gave', {
      hint: 'pass the `next` cursor of the previous page as it was printed, or page with --page',
    })
  const trimmed = text.trim()
  if (!/^[\w-]{1,2048}$/.test(trimmed)) throw bad()
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(trimmed, 'base64url').toString('utf8'))
  } catch {
    throw bad()
  }
  const parsed = CURSOR.safeParse(decoded)
  if (!parsed.success) throw bad()
  const cursor: Cursor = {sort: parsed.data.s, desc: parsed.data.d, key: parsed.data.k, id: parsed.data.i}
  if (cursor.sort !== order.sort || cursor.desc !== order.desc)
    throw new UserError(`--after continues a list in the order ${describeOrder(cursor)}, not ${describeOrder(order)}`, {
      hint: `repeat the command with ${describeOrder(cursor)}, or start again without --after`,
    })
  const spec = SORT_KEYS[cursor.sort]
  if (!keyFits(spec.kind, spec.nullable, cursor.key)) throw bad()
  return cursor
}

// ---------------------------------------------------------------------------
// Reading in order.

type RawRow = Record<string, unknown>

const SELECTED = [
  't.id',
  't.rds_instance_id',
  't.remote_tenant_id',
  't.name',
  't.status',
  't.primary_contact_name',
  't.primary_contact_email',
  't.cached_user_count',
  't.active_user_count',
  't.ghost_user_count',
  't.cached_location_count',
  't.health_score',
  't.last_user_activity_at',
  't.cache_refreshed_at',
  't.remote_missing_at',
]

function keyOf(row: RawRow, sort: TenantSort): Key {
  switch (SORT_KEYS[sort].kind) {
    case 'text':
      return String(row.name ?? '')
    case 'int':
      return toNumberOrNull(row[SORT_KEYS[sort].column.slice(2)])
    default:
      return toIso(row.cache_refreshed_at)
  }
}

/** A cursor's key as the column holds it: a time as a Date (SQLite stores it as milliseconds, which knex binds a Date as). */
const bindKey = (kind: KeyKind, key: string | number): string | number | Date => (kind === 'time' ? new Date(key) : key)

/**
 * Up to `count` matching rows in `order`, after `after` or from `offset`. Keyset
 * paging reads `key >= k AND (key > k OR id > i)`, which an index on (key, id)
 * answers as a range; rows whose key is NULL follow all others, by id.
 */
async function readOrdered(
  db: Db,
  filter: TenantFilter,
  order: TenantOrder,
  after: Cursor | undefined,
  offset: number,
  count: number,
  rdsNames?: ReadonlyMap<number, string>,
): Promise<RawRow[]> {
  const spec = SORT_KEYS[order.sort]
  const dir = order.desc ? 'desc' : 'asc'
  const beyond = order.desc ? '<' : '>'
  const base = () => {
    const query = applyFilter(db(`${TENANT_MASTER_TABLE} as t`), filter).select(SELECTED)
    return rdsNames ? query : query.leftJoin(`${RDS_TABLE} as r`, 'r.id', 't.rds_instance_id').select('r.name as rds_name')
  }
  const rows: RawRow[] = []
  const inNullTail = after !== undefined && after.key === null
  // Under --search the key is read through an expression, so that no index on it is walked: LIKE '%…%' can use
  // none, and the optimizer cannot tell how rare a match is, so walking the (key, id) index in order would look
  // up row after row to find a rare term (MariaDB: 5× a scan). Reading the table once and sorting the matches is bounded.
  const [keySql, keyIds] = filter.pattern === undefined ? ['??', [spec.column]] : ['COALESCE(??, ??)', [spec.column, spec.column]]
  if (!inNullTail) {
    const query = base()
      .orderByRaw(`${keySql} ${dir}, ?? ${dir}`, [...keyIds, 't.id'])
      .limit(count)
    if (spec.nullable) query.whereNotNull(spec.column)
    if (after && after.key !== null) {
      const key = bindKey(spec.kind, after.key)
      query.whereRaw(`${keySql} ${beyond}= ? AND (${keySql} ${beyond} ? OR ?? ${beyond} ?)`, [...keyIds, key, ...keyIds, key, 't.id', after.id])
    }
    if (offset > 0) query.offset(offset)
    rows.push(...((await query) as RawRow[]))
  }
  if (!spec.nullable || rows.length >= count) return rows
  let tailOffset = 0
  if (offset > 0 && rows.length === 0) {
    // The page starts among the NULLs (or past the end): skip what the non-NULL rows took of the offset.
    const counted = await applyFilter(db(`${TENANT_MASTER_TABLE} as t`), filter)
      .whereNotNull(spec.column)
      .count({n: '*'})
      .first()
    tailOffset = Math.max(0, offset - Number(counted?.n ?? 0))
  }
  const tail = base()
    .whereNull(spec.column)
    .orderBy('t.id', dir)
    .limit(count - rows.length)
  if (inNullTail) tail.where('t.id', beyond, after.id)
  if (tailOffset > 0) tail.offset(tailOffset)
  rows.push(...((await tail) as RawRow[]))
  return rows
}

/** A row as the list shows it; its RDS's name from the join, or from `rdsNames` when the rows were read without it. */
function toRow(row: RawRow, rdsNames?: ReadonlyMap<number, string>): TenantListRow {
  const rdsId = Number(row.rds_instance_id)
  const rds = rdsNames ? (rdsNames.get(rdsId) ?? null) : row.rds_name === null || row.rds_name === undefined ? null : String(row.rds_name)
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value))
  return {
    id: Number(row.id),
    tenant: `${rds ?? rdsId}:${String(row.remote_tenant_id)}`,
    rdsId,
    rds,
    remoteTenantId: Number(row.remote_tenant_id),
    name: text(row.name) ?? '',
    status: text(row.status),
    contactName: text(row.primary_contact_name),
    contactEmail: text(row.primary_contact_email),
    users: Number(row.cached_user_count ?? 0),
    activeUsers: toNumberOrNull(row.active_user_count),
    ghostUsers: toNumberOrNull(row.ghost_user_count),
    locations: Number(row.cached_location_count ?? 0),
    health: toNumberOrNull(row.health_score),
    lastActivityAt: toIso(row.last_user_activity_at),
    refreshedAt: toIso(row.cache_refreshed_at),
    missingSince: toIso(row.remote_missing_at),
  }
}

/** How many tenants match, on how many RDS, how fresh: one aggregate query over the filter. */
async function summarise(db: Db, filter: TenantFilter): Promise<TenantListSummary> {
  const row = (await applyFilter(db(`${TENANT_MASTER_TABLE} as t`), filter)
    .select(
      db.raw('COUNT(*) AS matching'),
      db.raw('COUNT(DISTINCT t.rds_instance_id) AS rds'),
      db.raw('COUNT(t.remote_missing_at) AS missing'),
      db.raw('COUNT(t.cache_refreshed_at) AS refreshed'),
      db.raw('MIN(t.cache_refreshed_at) AS oldest'),
      db.raw('MAX(t.cache_refreshed_at) AS newest'),
    )
    .first()) as RawRow | undefined
  const matching = Number(row?.matching ?? 0)
  return {
    matching,
    rds: Number(row?.rds ?? 0),
    missing: Number(row?.missing ?? 0),
    neverRefreshed: matching - Number(row?.refreshed ?? 0),
    oldestRefreshedAt: toIso(row?.oldest),
    newestRefreshedAt: toIso(row?.newest),
  }
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > TENANT_LIST_MAX_LIMIT)
    throw new UserError(`--limit must be a whole number from 1 to ${TENANT_LIST_MAX_LIMIT}, not ${limit}`, {
      hint: 'page with --after, or stream every match with --all --format csv|ndjson',
    })
}

/**
 * `tenant:list`: one page of the tenants matching the filters, in `sort`
 * order (ties by id; NULL scores and never-refreshed tenants last), after the
 * `after` cursor or at page `page`, with the summary of every match and the
 * cursor of the next page: indexed SQL on the control database (under --search
 * a scan, which no index can spare a `LIKE '%…%'`).
 */
export async function listTenants(ctx: Pick<OpsContext, 'db' | 'now'>, input: TenantListInput): Promise<TenantListResult> {
  checkLimit(input.limit)
  const order: TenantOrder = {sort: input.sort, desc: Boolean(input.desc)}
  if (input.after !== undefined && input.page !== undefined)
    throw new UserError('--after and --page both say where the page starts', {hint: 'give one of them'})
  if (input.page !== undefined && (!Number.isSafeInteger(input.page) || input.page < 1))
    throw new UserError(`--page must be a whole number from 1, not ${input.page}`)
  const after = input.after === undefined ? undefined : decodeCursor(input.after, order)
  const filter = await tenantFilter(ctx, input)
  const offset = input.page === undefined ? 0 : (input.page - 1) * input.limit
  // The page and the summary at once: under --search each reads the table.
  const [raw, summary] = await Promise.all([readOrdered(ctx.db, filter, order, after, offset, input.limit + 1), summarise(ctx.db, filter)])
  const page = raw.slice(0, input.limit)
  const last = page.at(-1)
  return {
    tenants: page.map((row) => toRow(row)),
    summary,
    sort: order.sort,
    desc: order.desc,
    limit: input.limit,
    page: input.page ?? null,
    next: raw.length > input.limit && last ? encodeCursor({...order, key: keyOf(last, order.sort), id: Number(last.id)}) : null,
  }
}

/**
 * Every tenant matching the filters, in order, as batches read by keyset (one
 * indexed query per batch, memory flat whatever the count). The filters are
 * checked when this resolves, before any batch is read, so a caller can open
 * its output only once the input is known to be good.
 */
export async function tenantBatches(
  ctx: Pick<OpsContext, 'db' | 'now'>,
  input: TenantFilterInput & TenantOrder,
  options: {batchSize?: number} = {},
): Promise<AsyncIterable<TenantListRow[]>> {
  const batch = options.batchSize ?? TENANT_STREAM_BATCH
  const filter = await tenantFilter(ctx, input)
  const order: TenantOrder = {sort: input.sort, desc: Boolean(input.desc)}
  // The registry's RDS names, read once: joined to each of 100,000 rows they cost the database more than the rows' own reads.
  const rdsNames = new Map((await ctx.db(RDS_TABLE).select('id', 'name')).map((r: {id: number; name: string}) => [Number(r.id), String(r.name)]))
  const next = (after: Cursor | undefined) => readOrdered(ctx.db, filter, order, after, 0, batch, rdsNames)
  return (async function* () {
    // The next batch is asked for as soon as this one is in, so the database works while this one is written.
    let pending = next(undefined)
    try {
      for (;;) {
        const raw = await pending
        const last = raw.length >= batch ? raw[raw.length - 1] : undefined
        if (last) pending = next({...order, key: keyOf(last, order.sort), id: Number(last.id)})
        if (raw.length > 0) yield raw.map((row) => toRow(row, rdsNames))
        if (!last) return
      }
    } finally {
      // Stopped early (the output failed): a batch still being read is not waited for, nor its failure reported.
      pending.catch(() => undefined)
    }
  })()
}

/**
 * `tenant:list --all`: every matching tenant as batches (see `tenantBatches`)
 * and, read beside them by one aggregate query, the summary of the matches.
 */
export async function streamTenants(
  ctx: Pick<OpsContext, 'db' | 'now'>,
  input: TenantFilterInput & TenantOrder,
): Promise<{batches: AsyncIterable<TenantListRow[]>; summary: Promise<TenantListSummary>}> {
  const batches = await tenantBatches(ctx, input)
  const summary = summarise(ctx.db, await tenantFilter(ctx, input))
  // Awaited once the rows are written; a stream that failed first must not leave it unhandled.
  summary.catch(() => undefined)
  return {batches, summary}
}
