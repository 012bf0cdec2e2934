import Database from 'better-sqlite3'
import {randomBytes} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, type CliResult} from '../support/cli.js'
import {createTestDatabase, createTestDir, withMysqlAdmin, type TestDatabase, type TestDir} from '../support/servers.js'
import {initialisedHome, startCli} from '../support/session.js'

const addArgs = (name: string) => [
  'rds:add',
  '--name',
  name,
  '--host',
  '127.0.0.1',
  '--port',
  '3306',
  '--username',
  'root',
  '--rai-database',
  `rai_${name}`,
  '--password-stdin',
  '--no-test',
  '--no-input',
]
const passwordOf = (name: string) => `secret-of-${name}-1`
const newKey = (kid: string) => `${kid}:${randomBytes(32).toString('base64')}`

interface Home {
  env: Record<string, string>
  cli(args: string[], options?: {env?: Record<string, string>; input?: string}): Promise<CliResult>
  keyFile: string
  kids(): string[]
  secretKids(): string[]
  sql(statement: string): void
}

/** A home with two RDS whose passwords are stored encrypted. In-process: what is tested is the key file and the rows, not the process around them. */
async function makeHome(root: string, name: string, keyring?: string): Promise<Home> {
  const session = await initialisedHome({
    home: join(root, name),
    password: 'keys-admin-password-1',
    email: 'keys@example.com',
    name: 'Keys',
    env: {RAIOPS_MASTER_KEY: keyring ?? '', RAIOPS_TOKEN: '', RAIOPS_MASTER_KEY_FILE: ''},
    runner: 'in-process',
  })
  const env = session.env
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}) => session.run(args, options)
  for (const rds of ['r1', 'r2']) {
    const added = await cli(addArgs(rds), {input: `${passwordOf(rds)}\n`})
    expect(added.code, added.stderr).toBe(0)
  }
  const keyFile = join(env.RAIOPS_HOME, 'master.key')
  return {
    env,
    cli,
    keyFile,
    kids: () =>
      readFileSync(keyFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(':')[0]),
    secretKids: () =>
      queryControlDb<{password_enc: string}>(env.RAIOPS_HOME, 'select password_enc from rds_instances order by name').map((r) => r.password_enc.split('.')[1]),
    sql(statement) {
      const db = new Database(join(env.RAIOPS_HOME, 'raiops.sqlite'))
      try {
        db.exec(statement)
      } finally {
        db.close()
      }
    },
  }
}

/** A plain command that must decrypt every stored password with the configured keyring. */
async function expectPasswordsReadable(home: Home, env: Record<string, string> = {}): Promise<void> {
  for (const rds of ['r1', 'r2']) {
    const shown = await home.cli(['rds:show', rds, '--reveal', '--json'], {env})
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.stringify(JSON.parse(shown.stdout))).toContain(passwordOf(rds))
  }
}

describe('keys:rotate and keys:prune with the key file', () => {
  let root: TestDir
  let home: Home

  beforeAll(async () => {
    root = createTestDir('raiops-keys-')
    home = await makeHome(root.path, 'file')
  })

  afterAll(() => root?.drop())

  it("the README's old recipe (a new key only in RAIOPS_MASTER_KEY, the key file without it) is refused and changes nothing", async () => {
    const [oldKid] = home.kids()
    const keyFileBefore = readFileSync(home.keyFile, 'utf8')
    const rotate = await home.cli(['keys:rotate'], {env: {RAIOPS_MASTER_KEY: `${newKey('k2')},${keyFileBefore.trim()}`}})
    expect(rotate.code).toBe(2)
    expect(rotate.stderr.trim().split('\n')).toHaveLength(1)
    expect(rotate.stderr).toMatch(/active key "k2" is not in .*master\.key.*unset RAIOPS_MASTER_KEY and run keys:rotate/)
    expect(readFileSync(home.keyFile, 'utf8')).toBe(keyFileBefore)
    expect(home.secretKids()).toEqual([oldKid, oldKid])
    await expectPasswordsReadable(home)
  })

  it('rotates: a new key first in the key file (0600), the old kept, every secret under the new one; plain commands still read them', async () => {
    const [oldKid] = home.kids()
    const rotate = await home.cli(['keys:rotate', '--json'])
    expect(rotate.code, rotate.stderr).toBe(0)
    const result = JSON.parse(rotate.stdout) as {activeKid: string; reencrypted: number; keyFile: string; kids: string[]}
    expect(result).toMatchObject({reencrypted: 2, keyFile: home.keyFile})
    expect(result.activeKid).not.toBe(oldKid)
    expect(home.kids()).toEqual([result.activeKid, oldKid])
    expect(result.kids).toEqual([result.activeKid, oldKid])
    expect(statSync(home.keyFile).mode & 0o777).toBe(0o600)
    expect(home.secretKids()).toEqual([result.activeKid, result.activeKid])
    await expectPasswordsReadable(home)
    const test = await home.cli(['rds:list', '--json'])
    expect(test.code, test.stderr).toBe(0)
  })

  it('prune drops the old key once unused (never the active one), and a retired key never encrypts again', async () => {
    const [activeKid, oldKid] = home.kids()
    const oldLine = readFileSync(home.keyFile, 'utf8').trim().split('\n')[1]
    const dry = await home.cli(['keys:prune', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({removed: [oldKid], kept: [activeKid], dryRun: true})
    expect(home.kids()).toEqual([activeKid, oldKid])

    const pruned = await home.cli(['keys:prune', '--json'])
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(JSON.parse(pruned.stdout)).toMatchObject({removed: [oldKid], kept: [activeKid], inUse: {[activeKid]: 2, [oldKid]: 0}})
    expect(home.kids()).toEqual([activeKid])
    expect(statSync(home.keyFile).mode & 0o777).toBe(0o600)
    await expectPasswordsReadable(home)

    const again = await home.cli(['keys:prune', '--json'])
    expect(JSON.parse(again.stdout)).toMatchObject({removed: [], kept: [activeKid]})

    // A run still holding the old keyring (old key first) may not write a secret the key file no longer opens.
    const stale = await home.cli(['rds:edit', 'r1', '--password-stdin', '--no-test'], {
      env: {RAIOPS_MASTER_KEY: `${oldLine},${readFileSync(home.keyFile, 'utf8').trim()}`},
      input: 'another-password-1\n',
    })
    expect(stale.code).toBe(2)
    expect(stale.stderr).toMatch(/key "[^"]+" from RAIOPS_MASTER_KEY was retired by keys:prune/)
    expect(home.secretKids()).toEqual([activeKid, activeKid])
    await expectPasswordsReadable(home)
  })

  it('a failure after the key file is written and before the secrets are (a crash) leaves every secret readable; prune keeps the key still in use', async () => {
    const [activeKid] = home.kids()
    // Every re-encryption fails, after the new key is in the file: the transaction never commits.
    home.sql("create trigger no_rotation before update of password_enc on rds_instances begin select raise(abort, 'simulated crash'); end")
    const failed = await home.cli(['keys:rotate'])
    expect(failed.code).not.toBe(0)
    const [added] = home.kids()
    expect(home.kids()).toEqual([added, activeKid])
    expect(home.secretKids()).toEqual([activeKid, activeKid])
    await expectPasswordsReadable(home)

    // The new key is active but unused, the old one still holds both secrets: nothing to drop.
    const pruned = await home.cli(['keys:prune', '--json'])
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(JSON.parse(pruned.stdout)).toMatchObject({removed: [], kept: [added, activeKid], inUse: {[added]: 0, [activeKid]: 2}})

    home.sql('drop trigger no_rotation')
    const rotated = await home.cli(['keys:rotate', '--json'])
    expect(rotated.code, rotated.stderr).toBe(0)
    const {activeKid: newest} = JSON.parse(rotated.stdout) as {activeKid: string}
    expect(home.kids()).toEqual([newest, added, activeKid])
    const cleaned = await home.cli(['keys:prune', '--json'])
    expect(JSON.parse(cleaned.stdout)).toMatchObject({removed: [added, activeKid], kept: [newest]})
    await expectPasswordsReadable(home)
  })

  it('a key file that is a link stays a link: rotate and prune write its target, which every later run reads', async () => {
    const linked = await makeHome(root.path, 'linked')
    const store = join(root.path, 'key-store')
    mkdirSync(store, {mode: 0o700})
    const target = join(store, 'master.key')
    renameSync(linked.keyFile, target)
    symlinkSync(target, linked.keyFile)
    const rotated = await linked.cli(['keys:rotate'])
    expect(rotated.code, rotated.stderr).toBe(0)
    const pruned = await linked.cli(['keys:prune'])
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(lstatSync(linked.keyFile).isSymbolicLink()).toBe(true)
    expect(readlinkSync(linked.keyFile)).toBe(target)
    expect(statSync(target).mode & 0o777).toBe(0o600)
    expect(linked.kids()).toHaveLength(1)
    expect(linked.secretKids()).toEqual([linked.kids()[0], linked.kids()[0]])
    // The target read directly holds the key every secret is under.
    const direct = await linked.cli(['rds:show', 'r1', '--reveal', '--json'], {env: {RAIOPS_MASTER_KEY_FILE: target}})
    expect(direct.code, direct.stderr).toBe(0)
    expect(direct.stdout).toContain(passwordOf('r1'))
  })
})

describe('keys:rotate and keys:prune with RAIOPS_MASTER_KEY (no key file)', () => {
  let root: TestDir
  let home: Home
  const k1 = newKey('k1')
  const k2 = newKey('k2')

  beforeAll(async () => {
    root = createTestDir('raiops-keys-env-')
    home = await makeHome(root.path, 'env', k1)
  })

  afterAll(() => root?.drop())

  it('re-encrypts under the new key only when told it is stored wherever raiops runs, and says so', async () => {
    const refused = await home.cli(['keys:rotate'], {env: {RAIOPS_MASTER_KEY: `${k2},${k1}`}})
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toMatch(
      /RAIOPS_MASTER_KEY is set, and raiops cannot store a new key there; nothing was changed — put the new key first in RAIOPS_MASTER_KEY wherever raiops runs .* --env-key-stored/,
    )
    expect(home.secretKids()).toEqual(['k1', 'k1'])

    const rotated = await home.cli(['keys:rotate', '--env-key-stored'], {env: {RAIOPS_MASTER_KEY: `${k2},${k1}`}})
    expect(rotated.code, rotated.stderr).toBe(0)
    expect(rotated.stdout).toMatch(/RAIOPS_MASTER_KEY must hold key k2 first wherever raiops runs; re-encrypted 2 secret\(s\)/)
    expect(home.secretKids()).toEqual(['k2', 'k2'])
    await expectPasswordsReadable(home, {RAIOPS_MASTER_KEY: `${k2},${k1}`})
    await expectPasswordsReadable(home, {RAIOPS_MASTER_KEY: k2})
  })

  it('prune names the keys to drop from RAIOPS_MASTER_KEY and changes nothing', async () => {
    const pruned = await home.cli(['keys:prune'], {env: {RAIOPS_MASTER_KEY: `${k2},${k1}`}})
    expect(pruned.code).toBe(2)
    expect(pruned.stderr.trim().split('\n')).toHaveLength(1)
    expect(pruned.stderr).toMatch(/no secret uses "k1" any more; nothing was changed — drop those keys from RAIOPS_MASTER_KEY/)
    const dry = await home.cli(['keys:prune', '--dry-run', '--json'], {env: {RAIOPS_MASTER_KEY: `${k2},${k1}`}})
    expect(JSON.parse(dry.stdout)).toMatchObject({removed: ['k1'], kept: ['k2'], dryRun: true})
  })
})

describe('keys:rotate killed (kill -9) between writing the key file and committing, on a MariaDB control database', () => {
  let root: TestDir
  let database: TestDatabase

  beforeAll(async () => {
    root = createTestDir('raiops-keys-kill-')
    database = await createTestDatabase('mysql', 'raiops_ctl')
  })

  afterAll(async () => {
    root?.drop()
    await database?.drop()
  })

  it('leaves every secret under a key the key file holds; the next rotation and prune finish the job', async () => {
    const session = await initialisedHome({
      home: join(root.path, 'home'),
      password: 'keys-admin-password-1',
      email: 'keys@example.com',
      name: 'Keys',
      env: {RAIOPS_DATABASE_URL: database.url, RAIOPS_MASTER_KEY: '', RAIOPS_TOKEN: '', RAIOPS_MASTER_KEY_FILE: ''},
      runner: 'in-process',
    })
    const env = session.env
    const cli = (args: string[], input?: string) => session.run(args, {input})
    for (const rds of ['r1', 'r2']) expect((await cli(addArgs(rds), `${passwordOf(rds)}\n`)).code).toBe(0)
    const keyFile = join(env.RAIOPS_HOME, 'master.key')
    const kids = () =>
      readFileSync(keyFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(':')[0])
    const [oldKid] = kids()
    // Each re-encryption waits, so the rotation is caught after the key file is written, before its commit.
    await withMysqlAdmin(async (conn) => {
      await conn.query(
        `create trigger \`${database.name}\`.slow_rotation before update on \`${database.name}\`.rds_instances for each row begin do sleep(2); end`,
      )
    })

    // Spawned: only a process of its own can be killed mid-write.
    const {child, exited} = startCli(['keys:rotate'], {env})
    const deadline = Date.now() + 20_000
    while (kids().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    child.kill('SIGKILL')
    await exited
    const [added] = kids()
    expect(kids()).toEqual([added, oldKid])

    await withMysqlAdmin(async (conn) => {
      await conn.query(`drop trigger \`${database.name}\`.slow_rotation`)
    })
    const secrets = await withMysqlAdmin(
      async (conn) => (await conn.query(`select password_enc from \`${database.name}\`.rds_instances order by name`))[0] as Array<{password_enc: string}>,
    )
    expect(secrets.map((r) => r.password_enc.split('.')[1])).toEqual([oldKid, oldKid])
    for (const rds of ['r1', 'r2']) {
      const shown = await cli(['rds:show', rds, '--reveal', '--json'])
      expect(shown.code, shown.stderr).toBe(0)
      expect(shown.stdout).toContain(passwordOf(rds))
    }
    expect(existsSync(keyFile)).toBe(true)

    const rotated = await cli(['keys:rotate', '--json'])
    expect(rotated.code, rotated.stderr).toBe(0)
    const {activeKid} = JSON.parse(rotated.stdout) as {activeKid: string}
    const pruned = await cli(['keys:prune', '--json'])
    expect(JSON.parse(pruned.stdout)).toMatchObject({removed: [added, oldKid], kept: [activeKid]})
    for (const rds of ['r1', 'r2']) expect((await cli(['rds:show', rds, '--reveal', '--json'])).stdout).toContain(passwordOf(rds))
  })
})
