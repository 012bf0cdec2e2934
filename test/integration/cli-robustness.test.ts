import Database from 'better-sqlite3'
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {mysqlRdsAddArgs, type CliResult} from '../support/cli.js'
import {
  createMysqlUser,
  createTestDatabase,
  createTestDir,
  mysqlServer,
  withMysqlAdmin,
  type TestDatabase,
  type TestDir,
  type TestMysqlUser,
} from '../support/servers.js'
import {CliSession, type Env} from '../support/session.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const ADMIN_PASSWORD = 'admin-pass-Rb71kq!'
const ANSI = '\u001b['

/** Every output of every command run here is kept, to check no secret ever leaks; each command names its own home. */
const session = new CliSession({})

function cli(env: Env, args: string[], input?: string): Promise<CliResult> {
  return session.run(args, {env, input})
}

const initArgs = ['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin']

/** A fresh RAIOPS_HOME with a SQLite control database, initialised. */
async function initSqliteHome(dir: TestDir, name: string): Promise<Record<string, string>> {
  const env = {RAIOPS_HOME: join(dir.path, name), RAIOPS_MASTER_KEY: '', RAIOPS_DATABASE_URL: '', RAIOPS_CONNECT_TIMEOUT_MS: '3000'}
  const init = await cli(env, initArgs, `${ADMIN_PASSWORD}\n`)
  expect(init.code, init.stderr).toBe(0)
  return env
}

function openControl(env: Record<string, string>, readonly = true): Database.Database {
  return new Database(join(env.RAIOPS_HOME, 'raiops.sqlite'), {readonly})
}

function passwordEncs(env: Record<string, string>): Array<{id: number; name: string; password_enc: string | null}> {
  const db = openControl(env)
  try {
    return db.prepare('select id, name, password_enc from rds_instances order by id').all() as Array<{
      id: number
      name: string
      password_enc: string | null
    }>
  } finally {
    db.close()
  }
}

function countRows(env: Record<string, string>, table: string): number {
  const db = openControl(env)
  try {
    return (db.prepare(`select count(*) as n from ${table}`).get() as {n: number}).n
  } finally {
    db.close()
  }
}

function setPasswordEnc(env: Record<string, string>, name: string, value: string): void {
  const db = openControl(env, false)
  try {
    const changed = db.prepare('update rds_instances set password_enc = ? where name = ?').run(value, name).changes
    expect(changed).toBe(1)
  } finally {
    db.close()
  }
}

/** The envelope with one character of its base64url body changed. */
function flipBodyCharacter(envelope: string): string {
  const [version, kid, body] = envelope.split('.')
  const at = Math.floor(body.length / 2)
  const flipped = body[at] === 'A' ? 'B' : 'A'
  return `${version}.${kid}.${body.slice(0, at)}${flipped}${body.slice(at + 1)}`
}

let fleetDb: TestDatabase
let userA: TestMysqlUser
let userB: TestMysqlUser
let dirs: TestDir

beforeAll(async () => {
  dirs = createTestDir('raiops-robust-')
  fleetDb = await createTestDatabase('mysql', 'raiops_rai')
  userA = await createMysqlUser(fleetDb.name)
  userB = await createMysqlUser(fleetDb.name)
})

afterAll(async () => {
  await userA?.drop()
  await userB?.drop()
  await fleetDb?.drop()
  dirs?.drop()
  session.expectNoSecretInTranscript(ADMIN_PASSWORD, userA?.password, userB?.password)
})

const addArgs = (name: string, user: TestMysqlUser, extra: string[] = []) =>
  mysqlRdsAddArgs({name, port: mysqlServer.port, user: user.user, database: fleetDb.name, extra})

describe('a broken secret, stdin, colours and --output on a SQLite control database', () => {
  let env: Record<string, string>

  beforeAll(async () => {
    env = await initSqliteHome(dirs, 'home-main')
    const healthy = await cli(env, addArgs('healthy', userA), `${userA.password}\n`)
    expect(healthy.code, healthy.stderr).toBe(0)
    const broken = await cli(env, addArgs('broken', userB), `${userB.password}\n`)
    expect(broken.code, broken.stderr).toBe(0)
  })

  it('a tampered ciphertext fails only its own RDS in rds:test --all (exit 3), naming "cannot decrypt"', async () => {
    const before = passwordEncs(env).find((r) => r.name === 'broken')!.password_enc!
    const tampered = flipBodyCharacter(before)
    expect(tampered).not.toBe(before)
    setPasswordEnc(env, 'broken', tampered)

    const all = await cli(env, ['rds:test', '--all', '--json'])
    expect(all.code, all.stderr).toBe(3)
    const results = JSON.parse(all.stdout) as Array<{name: string; ok: boolean; error: string | null}>
    expect(results.map((r) => r.name).sort()).toEqual(['broken', 'healthy'])
    expect(results.find((r) => r.name === 'healthy')).toMatchObject({ok: true, error: null})
    expect(results.find((r) => r.name === 'broken')).toMatchObject({ok: false, error: expect.stringMatching(/cannot decrypt/)})
    for (const output of [all.stdout, all.stderr]) {
      expect(output).not.toContain(userA.password)
      expect(output).not.toContain(userB.password)
    }
  })

  it('rds:edit --password-stdin with the right password repairs the broken row', async () => {
    const edit = await cli(env, ['rds:edit', 'broken', '--password-stdin'], `${userB.password}\n`)
    expect(edit.code, edit.stderr).toBe(0)
    const test = await cli(env, ['rds:test', 'broken', '--json'])
    expect(test.code, test.stderr).toBe(0)
    expect(JSON.parse(test.stdout)).toEqual([expect.objectContaining({name: 'broken', ok: true})])
    const all = await cli(env, ['rds:test', '--all'])
    expect(all.code, all.stderr).toBe(0)
  })

  it('--password-stdin reads the first line and does not wait for the pipe to close', async () => {
    const childEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries({...process.env, NO_COLOR: '1', CI: '1', ...env})) if (v !== undefined) childEnv[k] = v
    delete childEnv.FORCE_COLOR
    delete childEnv.NODE_ENV
    const args = [
      'rds:add',
      '--name',
      'p1',
      '--engine',
      'mysql',
      '--host',
      '127.0.0.1',
      '--username',
      'root',
      '--password-stdin',
      '--rai-database',
      fleetDb.name,
      '--no-test',
    ]
    const child = spawn(process.execPath, [join(root, 'bin', 'run.js'), ...args], {
      cwd: root,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.stdin.on('error', () => undefined)
    // A hang check: the process must end by itself while its stdin is still open.
    const outcome = await new Promise<{code: number | null; killed: boolean}>((resolve, reject) => {
      const killer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve({code: null, killed: true})
      }, 15_000)
      child.on('error', reject)
      child.on('exit', (code) => {
        clearTimeout(killer)
        resolve({code, killed: false})
      })
      child.stdin.write('pw-line-1\n')
    })
    child.stdin.end()
    session.transcript.push(stdout, stderr)
    expect(outcome.killed, `still running after 15 s with stdin open\nstdout: ${stdout}\nstderr: ${stderr}`).toBe(false)
    expect(outcome.code, stderr).toBe(0)
    expect(passwordEncs(env).find((r) => r.name === 'p1')?.password_enc).toMatch(/^v1\./)
    expect(stdout + stderr).not.toContain('pw-line-1')
  })

  it('colours rds:list only when asked: NO_COLOR and --no-color win over FORCE_COLOR', async () => {
    const noColor = await cli({...env, NO_COLOR: '1'}, ['rds:list'])
    expect(noColor.code, noColor.stderr).toBe(0)
    expect(noColor.stdout).toContain('healthy')
    expect(noColor.stdout).not.toContain(ANSI)

    const flag = await cli({...env, NO_COLOR: undefined, FORCE_COLOR: '1'}, ['rds:list', '--no-color'])
    expect(flag.code, flag.stderr).toBe(0)
    expect(flag.stdout).toContain('healthy')
    expect(flag.stdout).not.toContain(ANSI)

    const forced = await cli({...env, NO_COLOR: undefined, FORCE_COLOR: '1'}, ['rds:list'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout).toContain('healthy')
    expect(forced.stdout).toContain(ANSI)
  })

  it('rds:list --output into a missing directory: exit 2, one line naming --output, nothing written', async () => {
    const target = '/no/such/dir/x.csv'
    const result = await cli(env, ['rds:list', '--format', 'csv', '--output', target])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('--output')
    expect(result.stderr).toContain(target)
    expect(result.stdout).toBe('')
    expect(existsSync(target)).toBe(false)
    expect(existsSync(dirname(target))).toBe(false)
  })
})

describe('keys:rotate failing part-way', () => {
  it('changes nothing: every password_enc, the audit log and the key registry stay as they were', async () => {
    const env = await initSqliteHome(dirs, 'home-rotate')
    for (const [name, user] of [
      ['r1', userA],
      ['r2', userB],
    ] as const) {
      const add = await cli(env, addArgs(name, user), `${user.password}\n`)
      expect(add.code, add.stderr).toBe(0)
    }
    // r2 gets r1's ciphertext: it is bound to r1's row, so it does not decrypt as r2's.
    const [r1, r2] = passwordEncs(env)
    expect([r1.name, r2.name]).toEqual(['r1', 'r2'])
    setPasswordEnc(env, 'r2', r1.password_enc!)

    const before = passwordEncs(env)
    const auditBefore = countRows(env, 'audit_logs')
    const keysBefore = countRows(env, 'raiops_keys')
    const keyFileBefore = readFileSync(join(env.RAIOPS_HOME, 'master.key'), 'utf8')

    const rotate = await cli(env, ['keys:rotate'])
    expect(rotate.code).not.toBe(0)
    expect(rotate.code).not.toBeNull()
    expect(rotate.stderr).toMatch(/cannot decrypt/)
    expect(rotate.stderr.trim().split('\n')).toHaveLength(1)

    expect(passwordEncs(env)).toEqual(before)
    expect(countRows(env, 'audit_logs')).toBe(auditBefore)
    expect(countRows(env, 'raiops_keys')).toBe(keysBefore)
    // Every secret is checked before the new key is written: the key file is as it was.
    expect(readFileSync(join(env.RAIOPS_HOME, 'master.key'), 'utf8')).toBe(keyFileBefore)
    // r1 still decrypts with the old key alone
    const test = await cli(env, ['rds:test', 'r1'])
    expect(test.code, test.stderr).toBe(0)
  })
})

describe('a MariaDB control database shared by concurrent runs and machines', () => {
  const databases: TestDatabase[] = []

  afterAll(async () => {
    await Promise.all(databases.map((d) => d.drop()))
  })

  async function initMariadb(home: string): Promise<{env: Record<string, string>; control: TestDatabase}> {
    const control = await createTestDatabase('mysql', 'raiops_ctl')
    databases.push(control)
    const env = {RAIOPS_HOME: join(dirs.path, home), RAIOPS_DATABASE_URL: control.url, RAIOPS_MASTER_KEY: '', RAIOPS_MASTER_KEY_FILE: ''}
    const init = await cli(env, ['init', '--admin-email', 'a@example.com', '--admin-name', 'A', '--password-stdin'], `${ADMIN_PASSWORD}\n`)
    expect(init.code, init.stderr).toBe(0)
    return {env, control}
  }

  function masterRows(control: TestDatabase): Promise<{total: number; masters: string[]}> {
    return withMysqlAdmin(async (conn) => {
      const [all] = (await conn.query(`SELECT name, is_master FROM \`${control.name}\`.rds_instances ORDER BY id`)) as unknown as [
        Array<{name: string; is_master: number}>,
      ]
      return {total: all.length, masters: all.filter((r) => Number(r.is_master) === 1).map((r) => r.name)}
    })
  }

  it('two concurrent rds:add --master: exactly one wins, the other exits 2 naming it (5 rounds)', async () => {
    const {env, control} = await initMariadb('home-race')
    const add = (name: string) =>
      cli(env, ['rds:add', '--name', name, '--host', '127.0.0.1', '--username', 'root', '--rai-database', fleetDb.name, '--master', '--no-test'])
    for (let round = 1; round <= 5; round++) {
      const names = [`race${round}a`, `race${round}b`]
      const results = await Promise.all(names.map(add))
      const codes = results.map((r) => r.code)
      const context = `round ${round}: ${results.map((r, i) => `${names[i]} → ${r.code} ${r.stderr.trim()}`).join(' | ')}`
      expect(codes.slice().sort(), context).toEqual([0, 2])
      const winner = names[codes.indexOf(0)]
      const loser = results[codes.indexOf(2)]
      expect(loser.stderr.trim().split('\n'), context).toHaveLength(1)
      expect(loser.stderr, context).toContain(`"${winner}"`)
      expect(loser.stderr, context).toMatch(/already the master RDS/)
      expect(await masterRows(control), context).toEqual({total: 1, masters: [winner]})
      const removed = await cli(env, ['rds:remove', winner, '--yes'])
      expect(removed.code, removed.stderr).toBe(0)
      expect((await masterRows(control)).total).toBe(0)
    }
  })

  it("init on a second machine: a new key is refused and not written; the first machine's key changes nothing", async () => {
    const {env, control} = await initMariadb('home-machine1')
    const keyFile = join(env.RAIOPS_HOME, 'master.key')
    expect(existsSync(keyFile)).toBe(true)
    const key = readFileSync(keyFile, 'utf8')
    const auditCount = () =>
      withMysqlAdmin(async (conn) => {
        const [rows] = (await conn.query(`SELECT count(*) AS n FROM \`${control.name}\`.audit_logs`)) as unknown as [Array<{n: number}>]
        return Number(rows[0].n)
      })
    const auditBefore = await auditCount()

    const home2 = join(dirs.path, 'home-machine2')
    const second = await cli({...env, RAIOPS_HOME: home2}, ['init'])
    expect(second.code, second.stderr).toBe(2)
    expect(second.stderr.trim().split('\n')).toHaveLength(1)
    expect(second.stderr).toContain('wrong master key')
    expect(existsSync(join(home2, 'master.key'))).toBe(false)

    const shared = await cli({...env, RAIOPS_HOME: home2, RAIOPS_MASTER_KEY_FILE: keyFile}, ['init'])
    expect(shared.code, shared.stderr).toBe(0)
    expect(shared.stdout).toContain('nothing changed')
    expect(existsSync(join(home2, 'master.key'))).toBe(false)
    expect(readFileSync(keyFile, 'utf8')).toBe(key)
    expect(await auditCount()).toBe(auditBefore)
  })
})

describe('one-line errors for a bad RAIOPS_HOME or control database', () => {
  it('RAIOPS_HOME under a regular file: init exits 2 naming the directory', async () => {
    const file = join(dirs.path, 'a-regular-file')
    writeFileSync(file, 'not a directory\n')
    const home = join(file, 'raiops')
    const result = await cli({RAIOPS_HOME: home, RAIOPS_DATABASE_URL: '', RAIOPS_MASTER_KEY: '', RAIOPS_MASTER_KEY_FILE: ''}, initArgs, `${ADMIN_PASSWORD}\n`)
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain(home)
    expect(readFileSync(file, 'utf8')).toBe('not a directory\n')
  })

  it('an unusable PostgreSQL control database: db:migrate exits 1 naming it', async () => {
    const url = 'postgres://nouser@127.0.0.1:5432/nodb'
    const result = await cli({RAIOPS_HOME: join(dirs.path, 'home-pg'), RAIOPS_DATABASE_URL: url, RAIOPS_MASTER_KEY: ''}, ['db:migrate'])
    expect(result.code, result.stderr).toBe(1)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain(`cannot use the control database ${url}: `)
  })
})
