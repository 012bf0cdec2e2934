import mysql from 'mysql2/promise'
import {execFileSync} from 'node:child_process'
import {mkdirSync, rmSync, statfsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {COLUMN_LENGTHS} from '../../src/lib/db/limits.js'
import {MAX_TICKET_LENGTH} from '../../src/lib/impersonation/claims.js'
import {queryControlDb, type CliResult} from '../support/cli.js'
import {CONTROL_ENGINES, createControlDb} from '../support/control-db.js'
import {createTestDatabase, createTestDir, mysqlServer, type TestDatabase, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ADMIN_PASSWORD = 'limits-admin-password-1'
const oneLine = (result: CliResult) => result.stderr.trim().split('\n')

describe.each(CONTROL_ENGINES)('the column lengths inputs are checked against (%s)', (engine) => {
  it('are the lengths the migrations give the columns', async () => {
    expect(MAX_TICKET_LENGTH).toBe(COLUMN_LENGTHS.impersonations.ticket)
    const control = await createControlDb(engine)
    try {
      for (const [table, columns] of Object.entries(COLUMN_LENGTHS)) {
        for (const [column, length] of Object.entries(columns)) {
          let declared: number | undefined
          if (engine === 'sqlite') {
            const info = (await control.db.raw(`pragma table_info(${table})`)) as Array<{name: string; type: string}>
            declared = Number(/\((\d+)\)/.exec(info.find((c) => c.name === column)?.type ?? '')?.[1])
          } else {
            const schema = engine === 'mysql' ? control.db.raw('database()') : 'public'
            const row = (await control
              .db('information_schema.columns')
              .where({table_name: table, column_name: column})
              .andWhere('table_schema', schema)
              .first('character_maximum_length as length')) as {length: number} | undefined
            declared = Number(row?.length)
          }
          expect(declared, `${table}.${column}`).toBe(length)
        }
      }
    } finally {
      await control.drop()
    }
  })
})

describe('limits checked before anything is written, on a MariaDB control database', () => {
  let home: TestDir
  let database: TestDatabase
  let session: CliSession
  // In-process: what is tested is the checks on input, not the process around them.
  const cli = (args: string[], input?: string, env?: Record<string, string>) => session.run(args, {input, env})
  const count = async (table: string) => {
    const conn = await mysql.createConnection({...mysqlServer, database: database.name})
    try {
      const [rows] = await conn.query(`select count(*) as n from \`${table}\``)
      return Number((rows as Array<{n: number}>)[0].n)
    } finally {
      await conn.end()
    }
  }

  beforeAll(async () => {
    home = createTestDir('raiops-limits-')
    database = await createTestDatabase('mysql', 'raiops_ctl')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_DATABASE_URL: database.url, RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    const added = await cli(['rds:add', '--name', 'main', '--host', '127.0.0.1', '--username', 'root', '--rai-database', 'rai_main', '--no-test', '--no-input'])
    expect(added.code, added.stderr).toBe(0)
  })

  afterAll(async () => {
    home?.drop()
    await database?.drop()
  })

  it('a value longer than its column: exit 2, one line naming the flag and the limit, no row, no audit entry', async () => {
    const rdsBefore = await count('rds_instances')
    const rolesBefore = await count('raiops_roles')
    const auditBefore = await count('audit_logs')
    const add = (values: Record<string, string>) => [
      'rds:add',
      ...Object.entries({name: 'long', host: '127.0.0.1', username: 'root', 'rai-database': 'rai_long', ...values}).flatMap(([flag, value]) => [
        `--${flag}`,
        value,
      ]),
      '--no-test',
      '--no-input',
    ]
    const cases: Array<[string[], RegExp]> = [
      [add({host: `h${'x'.repeat(299)}`}), /^Error: --host must be at most 255 characters/],
      [add({username: 'u'.repeat(200)}), /^Error: --username must be at most 128 characters/],
      [add({'app-url': `https://${'a'.repeat(600)}.example`}), /^Error: --app-url must be at most 512 characters/],
      [['rds:edit', 'main', '--host', 'h'.repeat(300), '--no-test'], /^Error: --host must be at most 255 characters/],
      [['rds:edit', 'main', '--impersonation-audience', `https://${'a'.repeat(300)}`], /^Error: --impersonation-audience must be at most 255 characters/],
      [
        ['role:create', 'long_description', '--permission', 'rds.view', '--description', 'd'.repeat(300)],
        /^Error: --description must be at most 255 characters/,
      ],
    ]
    for (const [args, message] of cases) {
      const result = await cli(args)
      expect(result.code, `${args[0]} ${result.stderr}`).toBe(2)
      expect(oneLine(result), args[0]).toHaveLength(1)
      expect(result.stderr, args[0]).toMatch(message)
      expect(result.stderr, args[0]).not.toMatch(/insert into|update `/i)
    }
    expect(await count('rds_instances')).toBe(rdsBefore)
    expect(await count('raiops_roles')).toBe(rolesBefore)
    expect(await count('audit_logs')).toBe(auditBefore)
  })

  it('durations and times out of range: exit 2, one line naming the flag, nothing written', async () => {
    const tokensBefore = await count('api_tokens')
    const cases: Array<[string[], RegExp]> = [
      [['token:create', '--name', 'forever', '--role', 'read_only', '--expires', '999999999d'], /^Error: --expires must be at most 36500d, not "999999999d"/],
      [['token:create', '--name', 'forever', '--role', 'read_only', '--expires', '1e400d'], /^Error: --expires must be a duration/],
      [['audit:list', '--since', '999999999w'], /^Error: --since must be at most 36500d/],
      [['audit:list', '--until', '0001-01-01'], /^Error: --until must be a time from 1970 to 9999/],
      [['auth:login', '--email', 'ops@example.com', '--password-stdin', '--ttl', '99999999999h'], /^Error: --ttl must be at most 36500d/],
      [['rds:health', '--keep', '999999999d'], /^Error: --keep must be at most 36500d/],
    ]
    for (const [args, message] of cases) {
      const result = await cli(args, `${ADMIN_PASSWORD}\n`)
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2)
      expect(oneLine(result), args[0]).toHaveLength(1)
      expect(result.stderr, args[0]).toMatch(message)
      expect(result.stderr, args[0]).not.toMatch(/Invalid time value/)
    }
    expect(await count('api_tokens')).toBe(tokensBefore)
  })

  it('a malformed percent-escape in RAIOPS_DATABASE_URL: exit 2, one line naming the variable and the part, never the password', async () => {
    const parsed = new URL(database.url)
    const cases: Array<[string, string]> = [
      [`mysql://${parsed.username}:Sec%zzret-pw@${parsed.host}/${database.name}`, 'password'],
      [`mysql://${parsed.username}:Sec%E0%A4ret-pw@${parsed.host}/${database.name}`, 'password'],
      [`mysql://us%zer:Secret-pw@${parsed.host}/${database.name}`, 'user name'],
      [`mysql://${parsed.username}@${parsed.host}/rai%`, 'database name'],
      ['sqlite:///tmp/raiops-%g1.sqlite', 'file path'],
    ]
    for (const [url, part] of cases) {
      const result = await cli(['rds:list'], undefined, {RAIOPS_DATABASE_URL: url})
      expect(result.code, url).toBe(2)
      expect(oneLine(result), url).toHaveLength(1)
      expect(result.stderr, url).toMatch(new RegExp(`^Error: RAIOPS_DATABASE_URL: the ${part} holds a malformed percent-escape`))
      expect(result.stderr, url).not.toMatch(/Sec|ret-pw|URI malformed/)
    }
  })
})

/** Runs `fn` with `dir` mounted over itself read-only; the mount is always undone. */
async function withReadOnly<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  execFileSync('mount', ['--bind', dir, dir])
  try {
    execFileSync('mount', ['-o', 'remount,ro,bind', dir])
    return await fn()
  } finally {
    execFileSync('umount', [dir])
  }
}

describe('a full disk or a read-only RAIOPS_HOME (SQLite control database)', () => {
  let root: TestDir

  beforeAll(() => {
    root = createTestDir('raiops-disk-')
  })

  afterAll(() => root?.drop())

  // Spawned: every file a command opened is closed when its process ends, before the test undoes the mount.
  const initHome = (home: string) => initialisedHome({home, password: ADMIN_PASSWORD, env: {RAIOPS_TOKEN: ''}, timeoutMs: 30_000})

  it('a full disk: exit 2, one line naming the database file, no SQL, nothing written', async () => {
    const mountPoint = join(root.path, 'small')
    mkdirSync(mountPoint)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint])
    try {
      const home = join(mountPoint, 'raiops')
      const session = await initHome(home)
      // Leave 40 KiB: SQLite opens, but cannot commit a new row.
      const {bavail, bsize} = statfsSync(mountPoint)
      writeFileSync(join(mountPoint, 'filler'), Buffer.alloc(bavail * bsize - 40 * 1024))
      const added = await session.run([
        'rds:add',
        '--name',
        'full',
        '--host',
        '127.0.0.1',
        '--username',
        'root',
        '--rai-database',
        'rai_full',
        '--no-test',
        '--no-input',
      ])
      expect(added.code, added.stderr).toBe(2)
      expect(oneLine(added)).toEqual([
        `Error: cannot write ${join(home, 'raiops.sqlite')}: the disk is full; nothing was written — free some space there (df -h ${home}), then run the command again`,
      ])
      rmSync(join(mountPoint, 'filler'))
      expect(queryControlDb<{n: number}>(home, 'select count(*) as n from rds_instances')[0].n).toBe(0)
    } finally {
      execFileSync('umount', [mountPoint])
    }
  })

  it('a read-only RAIOPS_HOME: exit 2, one line naming the file, for the database and for the session file', async () => {
    const home = join(root.path, 'ro-home')
    const session = await initHome(home)
    await withReadOnly(home, async () => {
      const listed = await session.run(['rds:list'])
      expect(listed.code, listed.stderr).toBe(2)
      expect(oneLine(listed)).toEqual([
        `Error: cannot write ${join(home, 'raiops.sqlite')}: it is on a read-only file system; nothing was written — remount it read-write, or set RAIOPS_HOME (or RAIOPS_DATABASE_URL) to a place raiops can write`,
      ])
      const out = await session.run(['auth:logout'])
      expect(out.code, out.stderr).toBe(2)
      expect(oneLine(out)).toHaveLength(1)
      expect(out.stderr).toMatch(new RegExp(`^Error: cannot write ${join(home, 'session.jwt')}: it is on a read-only file system`))
    })
    expect(queryControlDb<{n: number}>(home, 'select count(*) as n from rds_instances')[0].n).toBe(0)
  })
})
