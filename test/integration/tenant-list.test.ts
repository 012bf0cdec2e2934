import {stringify} from 'csv-stringify/sync'
import type {Knex} from 'knex'
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {csvField} from '../../src/cli/output/list-stream.js'
import {RaiopsError} from '../../src/lib/errors/index.js'
import {listTenants, tenantBatches, type TenantListInput, type TenantListRow, type TenantSort} from '../../src/lib/tenant/list.js'
import {searchKey, searchText} from '../../src/lib/text/search.js'
import {CLI_BIN, cliEnv, type CliResult} from '../support/cli.js'
import {changeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** A tenant_master row as the test writes it, and what the list should make of it. */
interface Seed {
  remote: number
  rds: number
  name: string
  contactName: string | null
  contactEmail: string | null
  status: string | null
  users: number
  locations: number
  health: number | null
  refreshedAt: Date | null
  missingAt: Date | null
}

/**
 * 45 tenants over three RDS: names, user counts, scores and refresh times
 * shared by several (ties broken by id), scores and refreshes missing on some
 * (NULLs), rows that break the fleet contract (an empty name, no contact, no
 * status), accents and LIKE's wildcards in names.
 */
function seeds(now: Date): Seed[] {
  const names = ['acme', 'bolt', 'corvid', 'delta']
  return Array.from({length: 45}, (_, i): Seed => {
    const special: Partial<Seed> =
      i === 0
        ? {name: 'Müller Bäckerei', contactName: 'José Núñez', contactEmail: 'jose.nunez@bakery.example'}
        : i === 1
          ? {name: '', contactName: null, contactEmail: null, status: null}
          : i === 2
            ? {name: 'MULLER & Co'}
            : i === 3
              ? {name: 'promo 100% off_now'}
              : {}
    return {
      remote: 100 + i,
      rds: i % 3,
      name: names[i % 4],
      contactName: i % 5 === 2 ? null : `Contact ${i}`,
      contactEmail: i % 8 === 3 ? null : `owner${i}@example.com`,
      status: ['active', 'active', 'suspended', 'trial'][Math.floor(i / 2) % 4],
      users: [0, 3, 3, 7, 12][i % 5],
      locations: i % 3,
      health: i % 6 === 0 ? null : (i * 7) % 101,
      refreshedAt: i % 7 === 0 ? null : new Date(now.getTime() - (i % 5) * 20 * HOUR),
      missingAt: i % 9 === 4 ? new Date(now.getTime() - 3 * DAY) : null,
      ...special,
    }
  })
}

async function seedControlDb(db: Knex, now: Date): Promise<{rds: Array<{id: number; name: string}>; tenants: Array<Seed & {id: number}>}> {
  const rds: Array<{id: number; name: string}> = []
  for (const name of ['eu-1', 'us-1', 'ap-1']) {
    await db('rds_instances').insert({name, engine: 'sqlite', rai_database: `/tmp/rai-${name}.sqlite`, created_at: now, updated_at: now})
    rds.push({id: Number((await db('rds_instances').where({name}).first('id'))!.id), name})
  }
  const all = seeds(now)
  // Inserted in a shuffled order, so that ids do not follow the seeds' order.
  const order = all.map((_, i) => (i * 17) % all.length)
  for (const i of order) {
    const t = all[i]
    await db('tenant_master').insert({
      rds_instance_id: rds[t.rds].id,
      remote_tenant_id: t.remote,
      name: t.name,
      primary_contact_name: t.contactName,
      primary_contact_email: t.contactEmail,
      status: t.status,
      cached_user_count: t.users,
      cached_location_count: t.locations,
      health_score: t.health,
      cache_refreshed_at: t.refreshedAt,
      remote_missing_at: t.missingAt,
      search_text: searchText(t.name, t.contactName, t.contactEmail),
      created_at: now,
      updated_at: now,
    })
  }
  const ids = await db('tenant_master').select('id', 'remote_tenant_id')
  const idOf = new Map(ids.map((r) => [Number(r.remote_tenant_id), Number(r.id)]))
  return {rds, tenants: all.map((t) => ({...t, id: idOf.get(t.remote)!}))}
}

const SORTS: TenantSort[] = ['name', 'users', 'locations', 'health', 'refreshed']
const COLUMN: Record<TenantSort, string> = {
  name: 'name',
  users: 'cached_user_count',
  locations: 'cached_location_count',
  health: 'health_score',
  refreshed: 'cache_refreshed_at',
}

/** The order the list must follow, as one plain query states it: NULLs last, then the key, ties by id, all in the direction asked. */
async function oracle(db: Knex, sort: TenantSort, desc: boolean): Promise<number[]> {
  const dir = desc ? 'DESC' : 'ASC'
  const column = COLUMN[sort]
  const rows = await db('tenant_master').select('id').orderByRaw(`CASE WHEN ${column} IS NULL THEN 1 ELSE 0 END, ${column} ${dir}, id ${dir}`)
  return rows.map((r) => Number(r.id))
}

async function expectBadInput(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => new Error('accepted'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(RaiopsError)
  expect((error as RaiopsError).exitCode).toBe(2)
  expect((error as RaiopsError).message).toMatch(message)
  expect((error as RaiopsError).message).not.toContain('\n')
}

describe.each(CONTROL_ENGINES)('tenant:list on a %s control database', (engine) => {
  const now = new Date(Date.UTC(2026, 10, 20, 12, 0, 0))
  let control: TestControlDb
  let tenants: Array<Seed & {id: number}>
  let rds: Array<{id: number; name: string}>
  const ctx = () => changeContext(control.db, {now})
  const list = (input: Partial<TenantListInput> = {}) => listTenants(ctx(), {sort: 'name', desc: false, limit: 1000, ...input})
  const ids = (rows: TenantListRow[]) => rows.map((r) => r.id).sort((a, b) => a - b)
  const expectIds = (filter: (t: Seed) => boolean) =>
    tenants
      .filter(filter)
      .map((t) => t.id)
      .sort((a, b) => a - b)

  /** Every page from the first, following `next`. */
  async function walk(input: Partial<TenantListInput>): Promise<{rows: TenantListRow[]; pages: number}> {
    const rows: TenantListRow[] = []
    let after: string | undefined
    for (let pages = 1; pages < 100; pages++) {
      const page = await list({...input, after})
      rows.push(...page.tenants)
      if (page.next === null) return {rows, pages}
      expect(page.tenants).toHaveLength(input.limit!)
      after = page.next
    }
    throw new Error('the pages never end')
  }

  beforeAll(async () => {
    control = await createControlDb(engine)
    ;({tenants, rds} = await seedControlDb(control.db, now))
  })

  afterAll(async () => {
    await control?.drop()
  })

  it.each(SORTS.flatMap((sort) => [false, true].map((desc) => [sort, desc] as const)))(
    '--sort %s (desc: %s): every page by --after gives every tenant once, in order, ties by id, NULLs last',
    async (sort, desc) => {
      const expected = await oracle(control.db, sort, desc)
      const {rows, pages} = await walk({sort, desc, limit: 7})
      expect(pages).toBe(Math.ceil(tenants.length / 7))
      expect(rows.map((r) => r.id)).toEqual(expected)
      expect(new Set(rows.map((r) => r.id)).size).toBe(tenants.length)
      // The order itself, beyond what the database says of it: keys in order, ties by id, NULLs at the end.
      const key = (r: TenantListRow) =>
        sort === 'users' ? r.users : sort === 'locations' ? r.locations : sort === 'health' ? r.health : sort === 'refreshed' ? r.refreshedAt : r.name
      const sign = desc ? -1 : 1
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [key(rows[i - 1]), key(rows[i])]
        if (a === null) expect(b).toBeNull()
        if (a === null || b === null) continue
        if (a === b) expect(Math.sign(rows[i].id - rows[i - 1].id)).toBe(sign)
        else if (sort !== 'name') expect(Math.sign((a < b ? -1 : 1) * sign)).toBe(-1)
      }
      // --page gives the same pages.
      const byPage: number[] = []
      for (let page = 1; page <= pages + 1; page++) byPage.push(...(await list({sort, desc, limit: 7, page})).tenants.map((r) => r.id))
      expect(byPage).toEqual(expected)
      // And every match streamed, across batch boundaries (NULLs included).
      const streamed: number[] = []
      for await (const batch of await tenantBatches(ctx(), {sort, desc}, {batchSize: 4})) streamed.push(...batch.map((r) => r.id))
      expect(streamed).toEqual(expected)
    },
  )

  it.each(SORTS.flatMap((sort) => [false, true].map((desc) => [sort, desc] as const)))(
    '--search with --sort %s (desc: %s): the pages by --after and the stream are the matches, in order',
    async (sort, desc) => {
      const matches = new Set(expectIds((t) => (t.contactEmail ?? '').includes('example.com')))
      const expected = (await oracle(control.db, sort, desc)).filter((id) => matches.has(id))
      const {rows} = await walk({sort, desc, limit: 6, search: 'Example.com'})
      expect(rows.map((r) => r.id)).toEqual(expected)
      const streamed: number[] = []
      for await (const batch of await tenantBatches(ctx(), {sort, desc, search: 'example.com'}, {batchSize: 5})) streamed.push(...batch.map((r) => r.id))
      expect(streamed).toEqual(expected)
    },
  )

  it('pages through tenants sharing a name and a user count, filtered, to the end', async () => {
    const {rows} = await walk({sort: 'users', desc: true, limit: 2, status: ['active'], rds: ['eu-1', String(rds[1].id)]})
    expect(ids(rows)).toEqual(expectIds((t) => t.status === 'active' && t.rds !== 2))
    expect(rows.map((r) => r.users)).toEqual([...rows.map((r) => r.users)].sort((a, b) => b - a))
  })

  it.each<[string, Partial<TenantListInput>, (t: Seed) => boolean]>([
    ['--rds by name', {rds: ['us-1']}, (t) => t.rds === 1],
    ['--rds repeated, by name and id', {rds: ['eu-1', '3']}, (t) => t.rds === 0 || t.rds === 2],
    ['--status repeated', {status: ['suspended', 'trial']}, (t) => t.status === 'suspended' || t.status === 'trial'],
    ['--missing', {missing: true}, (t) => t.missingAt !== null],
    ['--stale 30h', {staleMs: 30 * HOUR}, (t) => t.refreshedAt === null || t.refreshedAt.getTime() < now.getTime() - 30 * HOUR],
    ['--min-users 3 --max-users 7', {minUsers: 3, maxUsers: 7}, (t) => t.users >= 3 && t.users <= 7],
    ['--min-users 12', {minUsers: 12}, (t) => t.users >= 12],
    ['--max-health 40', {maxHealth: 40}, (t) => t.health !== null && t.health <= 40],
    ['--min-health 50 --max-health 80', {minHealth: 50, maxHealth: 80}, (t) => t.health !== null && t.health >= 50 && t.health <= 80],
    ['--search acme (name)', {search: 'ACME'}, (t) => searchText(t.name, t.contactName, t.contactEmail).includes('acme')],
    ['--search muller finds Müller and MULLER', {search: 'muller'}, (t) => t.remote === 100 || t.remote === 102],
    ['--search Nunez (contact name, accents)', {search: 'Núnez'}, (t) => t.remote === 100],
    ['--search an email', {search: 'OWNER17@example.COM'}, (t) => t.remote === 117],
    ['--search 100% (literal %)', {search: '100%'}, (t) => t.remote === 103],
    ['--search _ (literal _)', {search: 'f_n'}, (t) => t.remote === 103],
    [
      'every filter at once',
      {rds: ['eu-1', 'us-1'], status: ['active'], search: 'example.com', staleMs: HOUR, minUsers: 1, maxUsers: 12, minHealth: 10, maxHealth: 90},
      (t) =>
        t.rds !== 2 &&
        t.status === 'active' &&
        (t.contactEmail ?? '').includes('example.com') &&
        (t.refreshedAt === null || t.refreshedAt.getTime() < now.getTime() - HOUR) &&
        t.users >= 1 &&
        t.health !== null &&
        t.health >= 10 &&
        t.health <= 90,
    ],
  ])('%s', async (_label, filter, expected) => {
    const want = expectIds(expected)
    expect(want.length).toBeGreaterThan(0)
    const result = await list(filter)
    expect(ids(result.tenants)).toEqual(want)
    expect(result.summary.matching).toBe(want.length)
    expect(result.next).toBeNull()
  })

  it('summarises every match with aggregate SQL, whatever the page', async () => {
    const result = await list({limit: 5, rds: ['eu-1', 'us-1']})
    const matches = tenants.filter((t) => t.rds !== 2)
    const refreshed = matches.flatMap((t) => (t.refreshedAt ? [t.refreshedAt.getTime()] : []))
    expect(result.tenants).toHaveLength(5)
    expect(result.summary).toEqual({
      matching: matches.length,
      rds: 2,
      missing: matches.filter((t) => t.missingAt).length,
      neverRefreshed: matches.filter((t) => !t.refreshedAt).length,
      oldestRefreshedAt: new Date(Math.min(...refreshed)).toISOString(),
      newestRefreshedAt: new Date(Math.max(...refreshed)).toISOString(),
    })
    expect(result.next).toEqual(expect.any(String))
    expect((await list({search: 'nobody-has-this'})).summary).toEqual({
      matching: 0,
      rds: 0,
      missing: 0,
      neverRefreshed: 0,
      oldestRefreshedAt: null,
      newestRefreshedAt: null,
    })
  })

  it('shows rows that break the fleet contract as they are', async () => {
    const [row] = (await list({search: 'contact'})).tenants.filter((r) => r.tenant === 'us-1:101')
    expect(row).toBeUndefined()
    const all = (await list()).tenants
    const broken = all.find((r) => r.tenant === 'us-1:101')!
    expect(broken).toMatchObject({name: '', contactName: null, contactEmail: null, status: null, rds: 'us-1', remoteTenantId: 101})
    expect(all[0]).toBe(broken) // the empty name sorts first
    expect(all.find((r) => r.remoteTenantId === 100)).toMatchObject({
      tenant: 'eu-1:100',
      name: 'Müller Bäckerei',
      contactEmail: 'jose.nunez@bakery.example',
      health: null,
      refreshedAt: null,
    })
  })

  it.each<[string, () => Promise<unknown>, RegExp]>([
    ['a malformed cursor', () => list({after: 'not a cursor!'}), /--after is not a cursor tenant:list gave/],
    ['a cursor that is not base64 JSON', () => list({after: 'abcdef'}), /--after is not a cursor/],
    [
      'a forged cursor',
      () => list({after: Buffer.from(JSON.stringify({v: 1, s: 'users', d: false, k: 'x', i: 1})).toString('base64url'), sort: 'users'}),
      /not a cursor/,
    ],
    [
      'a cursor from another sort',
      async () => list({sort: 'users', after: (await list({sort: 'name', limit: 3})).next!}),
      /--after continues a list in the order --sort name, not --sort users/,
    ],
    [
      'a cursor from the other direction',
      async () => list({sort: 'health', after: (await list({sort: 'health', desc: true, limit: 3})).next!}),
      /--sort health --desc, not --sort health/,
    ],
    ['an unknown --rds', () => list({rds: ['eu-1', 'nowhere']}), /no RDS named or numbered "nowhere"/],
    ['an --rds id past 32 bits', () => list({rds: ['99999999999']}), /no RDS named or numbered "99999999999"/],
    ['--max-users past 32 bits', () => list({maxUsers: 99_999_999_999}), /--max-users must be a whole number/],
    ['--min-users above --max-users', () => list({minUsers: 5, maxUsers: 2}), /--min-users 5 is above --max-users 2/],
    ['--min-health above --max-health', () => list({minHealth: 90, maxHealth: 10}), /--min-health 90 is above --max-health 10/],
    ['--max-health above 100', () => list({maxHealth: 101}), /--max-health must be a whole number from 0 to 100/],
    ['--limit above 1000', () => list({limit: 1001}), /--limit must be a whole number from 1 to 1000/],
    ['an empty --search', () => list({search: '  '}), /--search needs some text/],
    ['--after with --page', () => list({after: 'x', page: 2}), /--after and --page/],
    ['batches with an unknown --rds', () => tenantBatches(ctx(), {sort: 'name', desc: false, rds: ['nowhere']}), /no RDS/],
  ])('refuses %s (exit 2)', async (_label, run, message) => {
    await expectBadInput(run(), message)
  })

  it('a page past the end is empty, with the summary', async () => {
    const result = await list({limit: 10, page: 99, sort: 'health'})
    expect(result.tenants).toEqual([])
    expect(result.next).toBeNull()
    expect(result.summary.matching).toBe(tenants.length)
  })
})

describe('raiops tenant:list (in-process, MariaDB control database)', () => {
  let home: TestDir
  let control: TestControlDb
  let session: CliSession
  let readOnly: string
  let tenants: Array<Seed & {id: number}>

  const cli = (args: string[], env: Record<string, string> = {}) => session.run(['tenant:list', ...args], {env})
  const expectRefused = (result: CliResult, message: RegExp) => {
    expect(result.code, result.stderr).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
  }
  const csvBody = (text: string) => text.split('\n').slice(1).filter(Boolean)

  beforeAll(async () => {
    home = createTestDir('raiops-tenant-list-')
    control = await createControlDb('mysql', {migrate: false})
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'tenant-list-admin-password-1',
      env: {RAIOPS_DATABASE_URL: control.url, RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    ;({tenants} = await seedControlDb(control.db, new Date()))
    const created = await session.run(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    readOnly = (JSON.parse(created.stdout) as {token: string}).token
  })

  afterAll(async () => {
    await control?.drop()
    home?.drop()
  })

  it('prints a page as a table, the summary and how to get the next page on stderr', async () => {
    const result = await cli(['--limit', '5', '--sort', 'users', '--desc'])
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines[1]).toMatch(/│ id\s+│ tenant\s+│ name\s+│ status\s+│ users\s+│ locations\s+│ health\s+│ refreshed\s+│ missing\s+│/)
    expect(lines).toHaveLength(5 + 4)
    expect(result.stdout).not.toContain('@') // contacts only with --wide
    const [summary, next] = result.stderr.trim().split('\n')
    expect(summary).toMatch(/^45 tenants match on 3 RDS · 5 gone upstream · refreshed 3 d ago to (just now|\d+ s ago) · 7 never refreshed$/)
    expect(next).toMatch(/^more tenants: repeat with --after [\w-]+$/)
    const after = /--after ([\w-]+)/.exec(next)![1]
    const second = await cli(['--limit', '5', '--sort', 'users', '--desc', '--after', after, '--json'])
    expect(second.code, second.stderr).toBe(0)
    const body = JSON.parse(second.stdout) as {tenants: TenantListRow[]; summary: {matching: number}; next: string; sort: string; desc: boolean}
    expect(body.tenants).toHaveLength(5)
    expect(body).toMatchObject({sort: 'users', desc: true, summary: {matching: 45}, next: expect.any(String)})
    expect(second.stderr).toBe('')
  })

  it('--wide shows the contacts; a read_only caller sees their emails masked, in every format', async () => {
    const wide = await cli(['--wide', '--search', 'owner18@'])
    expect(wide.stdout).toContain('owner18@example.com')
    expect(wide.stdout).toContain('Contact 18')
    const masked = await Promise.all([
      cli(['--wide', '--search', 'owner18@'], {RAIOPS_TOKEN: readOnly}),
      cli(['--json', '--search', 'owner18@'], {RAIOPS_TOKEN: readOnly}),
      cli(['--all', '--format', 'csv', '--search', 'owner18@'], {RAIOPS_TOKEN: readOnly}),
      cli(['--all', '--format', 'ndjson', '--search', 'owner18@'], {RAIOPS_TOKEN: readOnly}),
    ])
    for (const result of masked) {
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain('o***@example.com')
      expect(result.stdout).not.toContain('owner18@')
    }
    expect((JSON.parse(masked[1].stdout) as {tenants: TenantListRow[]}).tenants[0].contactEmail).toBe('o***@example.com')
  })

  it('--all --format csv is the union of the pages, on stdout and to --output (atomically, mode 0600)', async () => {
    const pages: string[] = []
    let after: string | undefined
    for (;;) {
      const page = await cli(['--format', 'csv', '--limit', '8', '--sort', 'refreshed', ...(after ? ['--after', after] : [])])
      expect(page.code, page.stderr).toBe(0)
      pages.push(...csvBody(page.stdout))
      after = /--after ([\w-]+)/.exec(page.stderr)?.[1]
      if (!after) break
    }
    expect(pages).toHaveLength(tenants.length)
    const all = await cli(['--all', '--format', 'csv', '--sort', 'refreshed'])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout.split('\n')[0]).toBe('id,tenant,name,status,users,locations,health,refreshed,missing,contact,email')
    expect(csvBody(all.stdout)).toEqual(pages)
    // Then the summary of what was written, as a page gives it.
    const summaryLine = (await cli(['--limit', '1'])).stderr.split('\n')[0]
    expect(summaryLine).toMatch(/^45 tenants match on \d+ RDS/)
    expect(all.stderr.trim().split('\n')).toEqual(['wrote 45 tenants to standard output', summaryLine])
    const file = join(home.path, 'tenants.csv')
    const written = await cli(['--all', '--format', 'csv', '--sort', 'refreshed', '--output', file])
    expect(written.code, written.stderr).toBe(0)
    expect(written.stdout).toBe('')
    expect(written.stderr.trim().split('\n')).toEqual([`wrote 45 tenants to ${file}`, summaryLine])
    expect(readFileSync(file, 'utf8')).toBe(all.stdout)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const ndjson = await cli(['--all', '--format', 'ndjson', '--missing', '--columns', 'id'])
    expect(
      ndjson.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as TenantListRow).missingSince),
    ).toEqual(Array(5).fill(expect.any(String)))
  })

  it('--all into a pipe whose reader has gone (| head) ends quietly, exit 0 (spawned: a real pipe)', () => {
    // `true` reads nothing and exits before the CLI has started: its first write meets a pipe without a reader (EPIPE).
    const run = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI_BIN}" tenant:list --all --format csv | true`], {
      env: cliEnv(session.env),
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stderr.trim()).toBe('stopped: standard output was closed by its reader')
  })

  it('--page N is the Nth page', async () => {
    const page = await cli(['--page', '3', '--limit', '4', '--format', 'csv', '--columns', 'id'])
    const all = await cli(['--all', '--format', 'csv', '--columns', 'id'])
    expect(csvBody(page.stdout)).toEqual(csvBody(all.stdout).slice(8, 12))
    expect(page.stderr).toMatch(/more tenants: repeat with --after [\w-]+ \(or --page 4\)/)
  })

  it('accent- and case-insensitive --search', async () => {
    const result = await cli(['--search', 'MÜLLER', '--json'])
    expect((JSON.parse(result.stdout) as {tenants: TenantListRow[]}).tenants.map((t) => t.name).sort()).toEqual(['MULLER & Co', 'Müller Bäckerei'])
    expect(searchKey('MÜLLER')).toBe('muller')
  })

  const file = () => join(home.path, 'refused.csv')
  it.each<[string, string[], RegExp]>([
    ['a malformed cursor', ['--after', '%%%'], /--after is not a cursor tenant:list gave/],
    [
      'a cursor from another sort',
      ['--sort', 'users', '--after', Buffer.from('{"v":1,"s":"name","d":false,"k":"acme","i":3}').toString('base64url')],
      /--after continues a list in the order --sort name, not --sort users/,
    ],
    ['--all with the table format', ['--all'], /--all streams every tenant as --format csv or ndjson, not table/],
    ['--all with --json', ['--all', '--format', 'csv', '--json'], /--json prints one document/],
    ['--all with --after', ['--all', '--format', 'csv', '--after', 'x'], /--after/],
    ['an unknown --rds', ['--rds', 'eu-1,nowhere'], /no RDS named or numbered "nowhere"/],
    ['a bad --stale', ['--stale', 'soon'], /--stale must be a duration such as 90s, 15m, 24h or 7d, not "soon"/],
    ['--min-users above --max-users', ['--min-users', '10', '--max-users', '3'], /--min-users 10 is above --max-users 3/],
    ['--min-health out of range', ['--min-health', '120'], /120/],
    ['an unknown --sort', ['--sort', 'size'], /size/],
  ])('refuses %s: exit 2, one line, nothing written', async (_label, args, message) => {
    const result = await cli([...args, ...(args.includes('--all') ? ['--output', file()] : ['--format', 'csv', '--output', file()])])
    if (args.includes('--json')) {
      expect(result.code).toBe(2)
      expect((JSON.parse(result.stdout) as {error: {message: string}}).error.message).toMatch(message)
    } else expectRefused(result, message)
    expect(existsSync(file())).toBe(false)
    // The same refusal with --all streaming to stdout: nothing printed either.
    if (!args.includes('--json') && !args.includes('--all')) expectRefused(await cli([...args, '--all', '--format', 'ndjson']), /./)
  })
})

describe('the CSV of a streamed list', () => {
  it("quotes and escapes each field as the tables' CSV (csv-stringify) does", () => {
    const values = ['plain', '', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', ' spaced ', 'Müller; ünïcödé', '=1+1', 0, -3, 42.5, true, false, null]
    const expected = stringify([values], {cast: {boolean: (value) => (value ? 'true' : 'false')}})
    expect(`${values.map((v) => csvField(v)).join(',')}\n`).toBe(expected)
  })
})
