import Database from 'better-sqlite3'
import {parse} from 'csv-parse/sync'
import {cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {chainHash, GENESIS_HASH, type AuditRecord} from '../../src/lib/audit/writer.js'
import {type CliResult} from '../support/cli.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createTestDatabase, createTestDir, mysqlServer, type TestDatabase, type TestDir} from '../support/servers.js'
import {initialisedHome, killStartedClis, startCli, waitFor, type BackgroundCli, type CliSession} from '../support/session.js'

/** Every background raiops still running is killed when its file's tests end, whatever happened. */
afterAll(killStartedClis)

const RDS_PASSWORD = 'Audit-Secret-pw-7'
/** A control character as it would reach a terminal: anything but the newline that ends a line. */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e]/

describe('audit:list, audit:show, audit:verify and the status audit section', () => {
  let home: TestDir
  let env: Record<string, string>
  let session: CliSession
  // In-process: what is tested is the audit trail and its output; `--follow`, stopped by Ctrl-C, is spawned (startCli).
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)

  /** A copy of the control database in a home of its own, to tamper with. */
  function copyHome(name: string): {env: Record<string, string>; db: Database.Database} {
    const copy = join(home.path, name)
    cpSync(env.RAIOPS_HOME, copy, {recursive: true})
    return {env: {...env, RAIOPS_HOME: copy}, db: new Database(join(copy, 'raiops.sqlite'))}
  }

  const ids = (db: Database.Database): Array<{id: number; seq: number; action: string}> =>
    db.prepare('select id, seq, action from audit_logs order by seq').all() as Array<{id: number; seq: number; action: string}>

  beforeAll(async () => {
    home = createTestDir('raiops-audit-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'audit-admin-password-1', runner: 'in-process'})
    env = session.env
    const steps: Array<[string[], string?]> = [
      [
        [
          'rds:add',
          '--name',
          'main',
          '--host',
          '127.0.0.1',
          '--port',
          '3306',
          '--username',
          'root',
          '--rai-database',
          'rai_a',
          '--master',
          '--no-test',
          '--no-input',
          '--password-stdin',
        ],
        `${RDS_PASSWORD}\n`,
      ],
      [['rds:add', '--name', 'eu', '--host', '127.0.0.1', '--port', '3306', '--username', 'root', '--rai-database', 'rai_b', '--no-test', '--no-input']],
      [['rds:edit', 'eu', '--rai-database', 'rai_eu', '--no-test']],
      [['rds:drain', 'eu']],
    ]
    for (const [args, input] of steps) {
      const result = await cli(args, {input})
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
    }
  })

  afterAll(() => home?.drop())

  it('lists newest first, filters by action wildcard, RDS and time, in every format, never with a secret', async () => {
    const all = await cli(['audit:list', '--json'])
    expect(all.code, all.stderr).toBe(0)
    const entries = JSON.parse(all.stdout) as Array<{
      id: number
      action: string
      rdsInstanceId: number | null
      newValues: Record<string, unknown> | null
      actorType: string
      actor: string
    }>
    expect(entries.length).toBeGreaterThanOrEqual(5)
    expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort((a, b) => b - a))
    expect(entries.map((e) => e.action)).toContain('system.init')
    // init acts as the system; the first admin, signed in by it, made the rest.
    expect(entries.filter((e) => e.action.startsWith('rds.')).every((e) => e.actorType === 'operator' && e.actor === 'ops@example.com')).toBe(true)
    expect(entries.find((e) => e.action === 'system.init')?.actorType).toBe('system')

    const rds = JSON.parse((await cli(['audit:list', '--action', 'rds.*', '--json'])).stdout) as typeof entries
    expect(rds.map((e) => e.action)).toEqual(['rds.drain', 'rds.edit', 'rds.add', 'rds.add'])
    const eu = JSON.parse((await cli(['audit:list', '--rds', 'eu', '--json'])).stdout) as typeof entries
    expect(eu.map((e) => e.action)).toEqual(['rds.drain', 'rds.edit', 'rds.add'])
    expect(new Set(eu.map((e) => e.rdsInstanceId)).size).toBe(1)
    expect(JSON.parse((await cli(['audit:list', '--action', 'rds.add', '--limit', '1', '--json'])).stdout)).toHaveLength(1)
    expect(JSON.parse((await cli(['audit:list', '--since', '1h', '--json'])).stdout)).toHaveLength(entries.length)
    expect(JSON.parse((await cli(['audit:list', '--until', '2000-01-01', '--json'])).stdout)).toEqual([])
    // Case does not matter, on every engine.
    expect(JSON.parse((await cli(['audit:list', '--action', 'RDS.*', '--json'])).stdout)).toHaveLength(4)
    // LIKE's own wildcards are literal: "rds_add" matches nothing.
    expect(JSON.parse((await cli(['audit:list', '--action', 'rds_add*', '--json'])).stdout)).toEqual([])

    const table = await cli(['audit:list', '--action', 'rds.*'])
    expect(table.stdout).toMatch(/id\s.*when\s.*actor\s.*action/)
    expect(table.stdout).toMatch(/rds\.add/)
    const csv = await cli(['audit:list', '--format', 'csv'])
    expect(csv.stdout.split('\n')[0]).toBe('id,when,actor,action,target,rds,tenant')
    const ndjson = await cli(['audit:list', '--format', 'ndjson'])
    expect(ndjson.stdout.trim().split('\n')).toHaveLength(entries.length)

    for (const output of [all.stdout, table.stdout, csv.stdout, ndjson.stdout]) expect(output).not.toContain(RDS_PASSWORD)
  })

  it.each([
    [['audit:list', '--since', 'yesterday']],
    [['audit:list', '--since', '1h', '--until', '2h']],
    [['audit:list', '--rds', 'nowhere']],
    [['audit:list', '--limit', '0']],
    [['audit:show', '999999']],
    [['audit:show', 'abc']],
  ])('%j: exit 2, one line', async (args) => {
    const result = await cli(args)
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stdout).toBe('')
  })

  it('shows one entry with its change as a diff', async () => {
    const [databaseEdit] = JSON.parse((await cli(['audit:list', '--action', 'rds.edit', '--rds', 'eu', '--json'])).stdout) as Array<{
      id: number
    }>
    const shown = await cli(['audit:show', String(databaseEdit.id)])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain(`Audit entry ${databaseEdit.id}`)
    expect(shown.stdout).toMatch(/Action\s+rds\.edit/)
    expect(shown.stdout).toMatch(/raiDatabase\n\s+- rai_b\n\s+\+ rai_eu/)
    expect(shown.stdout).not.toMatch(/^\s+name$/m)
    const json = JSON.parse((await cli(['audit:show', String(databaseEdit.id), '--json'])).stdout) as {
      changes: Array<{field: string; old: unknown; new: unknown}>
    }
    expect(json.changes).toContainEqual({field: 'raiDatabase', old: 'rai_b', new: 'rai_eu'})
    // Only what changed: the name stayed.
    expect(json.changes.map((c) => c.field)).not.toContain('name')
  })

  it('verifies an intact chain, exit 0; status shows it', async () => {
    const verified = await cli(['audit:verify'])
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/^intact: \d+ entries, head sequence \d+/)
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as {
      sections: Array<{key: string; state: string; data: Record<string, unknown>}>
    }
    const audit = status.sections.find((s) => s.key === 'audit')
    expect(audit?.state).toBe('ok')
    expect(audit?.data).toMatchObject({intact: true, lastEntry: {action: 'rds.drain'}})
  })

  it.each([
    [
      'an edited value',
      (db: Database.Database) => db.prepare(`update audit_logs set new_values = replace(new_values, 'rai_eu', 'rai_xx') where action = 'rds.edit'`).run(),
      5,
      /content does not match/,
    ],
    [
      'a deleted entry',
      (db: Database.Database, rows: ReturnType<typeof ids>) => db.prepare('delete from audit_logs where id = ?').run(rows[2].id),
      3,
      /missing/,
    ],
    [
      'two entries swapped',
      (db: Database.Database, rows: ReturnType<typeof ids>) => {
        db.prepare('update audit_logs set seq = -1 where id = ?').run(rows[1].id)
        db.prepare('update audit_logs set seq = ? where id = ?').run(rows[1].seq, rows[2].id)
        db.prepare('update audit_logs set seq = ? where id = ?').run(rows[2].seq, rows[1].id)
      },
      1,
      /prev_hash|content/,
    ],
    [
      'the last entry removed',
      (db: Database.Database, rows: ReturnType<typeof ids>) => db.prepare('delete from audit_logs where id = ?').run(rows.at(-1)?.id),
      -1,
      /removed/,
    ],
  ])('%s: audit:verify names the first bad entry, exit 1; status fails', async (name, tamper, index, reason) => {
    const copy = copyHome(name.replace(/\W+/g, '-'))
    const rows = ids(copy.db)
    tamper(copy.db, rows)
    copy.db.close()
    const expectedSeq = index === -1 ? (rows.at(-1)?.seq as number) : rows[index].seq
    const result = await cli(['audit:verify', '--json'], {env: copy.env})
    expect(result.code).toBe(1)
    const report = JSON.parse(result.stdout) as {ok: boolean; firstBad: {seq: number; reason: string}}
    expect(report.ok).toBe(false)
    expect(report.firstBad.seq).toBe(expectedSeq)
    expect(report.firstBad.reason).toMatch(reason)
    const text = await cli(['audit:verify'], {env: copy.env})
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(new RegExp(`^broken at sequence ${expectedSeq}`))
    const status = JSON.parse((await cli(['status', '--json'], {env: copy.env})).stdout) as {sections: Array<{key: string; state: string}>}
    expect(status.sections.find((s) => s.key === 'audit')?.state).toBe('fail')
  })

  it('exports to CSV and NDJSON files with the filters, the file complete or absent', async () => {
    const csvFile = join(home.path, 'audit.csv')
    const csv = await cli(['audit:export', '--format', 'csv', '--output', csvFile])
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stderr).toMatch(/wrote \d+ entries to/)
    const rows = parse(readFileSync(csvFile, 'utf8'), {columns: true}) as Array<Record<string, string>>
    const listed = JSON.parse((await cli(['audit:list', '--json'])).stdout) as Array<{id: number}>
    expect(rows.map((r) => Number(r.id))).toEqual(listed.map((e) => e.id).reverse())
    expect(rows.find((r) => r.action === 'rds.edit')?.new_values).toContain('rai_eu')
    expect(readFileSync(csvFile, 'utf8')).not.toContain(RDS_PASSWORD)

    const ndjsonFile = join(home.path, 'rds.ndjson')
    const ndjson = await cli(['audit:export', '--format', 'ndjson', '--output', ndjsonFile, '--action', 'rds.*', '--json'])
    expect(ndjson.code, ndjson.stderr).toBe(0)
    expect(JSON.parse(ndjson.stdout)).toMatchObject({format: 'ndjson', entries: 4})
    const lines = readFileSync(ndjsonFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {action: string})
    expect(lines.map((l) => l.action)).toEqual(['rds.add', 'rds.add', 'rds.edit', 'rds.drain'])

    const nowhere = await cli(['audit:export', '--format', 'csv', '--output', join(home.path, 'missing-dir', 'a.csv')])
    expect(nowhere.code).toBe(2)
    expect(nowhere.stderr.trim().split('\n')).toHaveLength(1)
    expect(readdirSync(home.path).filter((f) => f.endsWith('.tmp'))).toEqual([])
    expect(existsSync(join(home.path, 'missing-dir'))).toBe(false)
    expect((await cli(['audit:export', '--format', 'xml', '--output', csvFile])).code).toBe(2)
  })

  it('says which secret an edit changed: password: changed (redacted), never "no values recorded"', async () => {
    const copy = copyHome('password-edit')
    copy.db.close()
    const edited = await cli(['rds:edit', 'eu', '--password-stdin', '--no-test'], {env: copy.env, input: 'New-Secret-pw-8\n'})
    expect(edited.code, edited.stderr).toBe(0)
    const [entry] = JSON.parse((await cli(['audit:list', '--action', 'rds.edit', '--limit', '1', '--json'], {env: copy.env})).stdout) as Array<{id: number}>
    const shown = await cli(['audit:show', String(entry.id)], {env: copy.env})
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/^\s+password: changed \(redacted\)$/m)
    expect(shown.stdout).not.toMatch(/no values recorded/)
    expect(shown.stdout).not.toContain('New-Secret-pw-8')
  })

  describe('entries that reached the table however they did', () => {
    let copy: {env: Record<string, string>; db: Database.Database}
    let viewer: Record<string, string>
    let deepId: number
    let controlId: number
    const deep = `${'{"a":'.repeat(3000)}"victim@example.com"${'}'.repeat(3000)}`
    const action = 'user.updated\u001b[2J\nforged line\u202e'

    /** An entry written straight into the table, as an older version or a hand-made INSERT could have left it. */
    function insert(db: Database.Database, values: {action: string; actor: string; targetId: string; newValues: string}): number {
      const last = db.prepare('select seq, occurred_at, hash from audit_logs order by seq desc limit 1').get() as {
        seq: number
        occurred_at: unknown
        hash: string
      }
      return Number(
        db
          .prepare(
            `insert into audit_logs (seq, occurred_at, actor_type, actor, action, target_type, target_id, old_values, new_values, source, prev_hash, hash) values (?, ?, 'rai', ?, ?, 'user', ?, null, ?, '{}', ?, ?)`,
          )
          .run(last.seq + 1, last.occurred_at, values.actor, values.action, values.targetId, values.newValues, last.hash, '0'.repeat(64)).lastInsertRowid,
      )
    }

    beforeAll(async () => {
      copy = copyHome('stored-as-is')
      const created = await cli(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'], {env: copy.env})
      expect(created.code, created.stderr).toBe(0)
      viewer = {...copy.env, RAIOPS_TOKEN: (JSON.parse(created.stdout) as {token: string}).token}
      deepId = insert(copy.db, {action: 'deep.nesting', actor: 'user:1 <deep@example.com>', targetId: '1', newValues: `{"nested":${deep}}`})
      controlId = insert(copy.db, {
        action,
        actor: 'user:2 <\u001b]0;owned\u0007x@example.com>',
        targetId: '2\r\n3',
        newValues: '{"note":"ok"}',
      })
      copy.db.close()
    })

    it.each([
      ['a role without pii.view', () => viewer],
      ['a role with pii.view', () => copy.env],
    ])('an entry nested 3,000 deep renders in audit:show, list, tail and export for %s', async (_who, who) => {
      const env = who()
      const file = join(home.path, `deep-${env === viewer ? 'viewer' : 'admin'}.ndjson`)
      const runs = [
        await cli(['audit:show', String(deepId)], {env}),
        await cli(['audit:show', String(deepId), '--json'], {env}),
        await cli(['audit:list', '--action', 'deep.*'], {env}),
        await cli(['audit:list', '--action', 'deep.*', '--json'], {env}),
        await cli(['audit:tail', '-n', '5'], {env}),
        await cli(['audit:tail', '-n', '5', '--json'], {env}),
        await cli(['audit:export', '--format', 'ndjson', '--output', file, '--action', 'deep.*'], {env}),
      ]
      for (const run of runs) {
        expect(run.code, run.stderr).toBe(0)
        expect(run.stderr).not.toMatch(/call stack/)
      }
      const shown = JSON.parse(runs[1].stdout) as {newValues: {unparsed: string}}
      // Too deep to walk: shown as the text stored, emails masked in it unless the role has pii.view.
      expect(shown.newValues.unparsed).toContain(env === viewer ? 'v***@example.com' : 'victim@example.com')
      expect(shown.newValues.unparsed.length).toBeGreaterThan(6000)
      expect(runs[0].stdout).toContain('Action   deep.nesting')
      expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1)
    })

    it('control characters stored in an entry are escaped in every human output, exact in JSON', async () => {
      const outputs = [
        await cli(['audit:show', String(controlId)], {env: copy.env}),
        await cli(['audit:list', '--limit', '3'], {env: copy.env}),
        await cli(['audit:tail', '-n', '3'], {env: copy.env}),
        await cli(['status'], {env: copy.env}),
      ]
      for (const output of outputs) {
        expect(output.stdout).not.toMatch(RAW_CONTROL)
        expect(output.stdout).not.toMatch(/^forged line/m)
      }
      expect(outputs[0].stdout).toContain('Action   user.updated\\u001b[2J\\nforged line\\u202e')
      expect(outputs[0].stdout).toContain('Target   user:2\\r\\n3')
      expect(outputs[2].stdout).toContain('user.updated\\u001b[2J\\nforged line\\u202e')
      const json = JSON.parse((await cli(['audit:show', String(controlId), '--json'], {env: copy.env})).stdout) as {
        action: string
        targetId: string
      }
      expect(json).toMatchObject({action, targetId: '2\r\n3'})
    })
  })

  it('tail prints the last entries oldest first; --follow prints new ones as they land (NDJSON under --json), Ctrl-C exits 130', async () => {
    const last = await cli(['audit:tail', '-n', '2'])
    expect(last.code, last.stderr).toBe(0)
    const lines = last.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toMatch(/rds\.edit/)
    expect(lines[2]).toMatch(/rds\.drain/)

    const tail = startCli(['audit:tail', '-n', '1', '--follow', '--interval', '0.2', '--json'], {env})
    await waitFor(() => tail.output.stdout.includes('rds.drain'), {what: 'the last entry'})
    const added = await cli([
      'rds:add',
      '--name',
      'tailed',
      '--host',
      '127.0.0.1',
      '--port',
      '3306',
      '--username',
      'root',
      '--rai-database',
      'rai_t',
      '--no-test',
      '--no-input',
    ])
    expect(added.code, added.stderr).toBe(0)
    await waitFor(() => tail.output.stdout.includes('"tailed"') || tail.output.stdout.split('\n').length > 2, {what: 'the new entry'})
    tail.child.kill('SIGINT')
    // Ctrl-C ends a follow: exit 130.
    expect(await tail.exited).toBe(130)
    const events = tail.output.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {action: string; newValues: Record<string, unknown>})
    expect(events.map((e) => e.action)).toEqual(['rds.drain', 'rds.add'])
    expect(events[1].newValues).toMatchObject({name: 'tailed'})
    const removed = await cli(['rds:remove', 'tailed', '--yes'])
    expect(removed.code, removed.stderr).toBe(0)
  })
})

describe('audit:checkpoint and audit:verify --checkpoint', () => {
  let home: TestDir
  let env: Record<string, string>
  let session: CliSession
  // In-process: what is tested is the checkpoint and its check, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)

  /** What someone with write access to the table can do: re-compute every hash from `fromSeq` on, and the head. */
  function rechain(db: Database.Database): void {
    const rows = db.prepare('select * from audit_logs order by seq').all() as Array<Record<string, unknown>>
    let prev = GENESIS_HASH
    for (const row of rows) {
      const record: AuditRecord = {
        seq: Number(row.seq),
        occurred_at: new Date(Number(row.occurred_at)).toISOString(),
        actor_type: row.actor_type as AuditRecord['actor_type'],
        actor: String(row.actor),
        action: String(row.action),
        target_type: (row.target_type as string | null) ?? null,
        target_id: (row.target_id as string | null) ?? null,
        rds_instance_id: row.rds_instance_id === null ? null : Number(row.rds_instance_id),
        tenant_master_id: row.tenant_master_id === null ? null : Number(row.tenant_master_id),
        old_values: (row.old_values as string | null) ?? null,
        new_values: (row.new_values as string | null) ?? null,
        source: String(row.source),
      }
      const hash = chainHash(prev, record)
      db.prepare('update audit_logs set prev_hash = ?, hash = ? where id = ?').run(prev, hash, row.id)
      prev = hash
    }
    db.prepare('update audit_head set seq = ?, hash = ? where id = 1').run(rows.length === 0 ? 0 : Number(rows.at(-1)?.seq), prev)
  }

  function copyHome(name: string): {env: Record<string, string>; db: Database.Database} {
    const copy = join(home.path, name)
    cpSync(env.RAIOPS_HOME, copy, {recursive: true})
    return {env: {...env, RAIOPS_HOME: copy}, db: new Database(join(copy, 'raiops.sqlite'))}
  }

  beforeAll(async () => {
    home = createTestDir('raiops-checkpoint-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'checkpoint-admin-password-1', runner: 'in-process'})
    env = session.env
  })

  afterAll(() => home?.drop())

  it('signs the head with a key it creates (0600, public key beside it); verify checks the checkpoint', async () => {
    for (const name of ['one', 'two', 'three']) {
      const added = await cli([
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
        '--no-test',
        '--no-input',
      ])
      expect(added.code, added.stderr).toBe(0)
    }
    const file = join(home.path, 'head.json')
    const made = await cli(['audit:checkpoint', '--output', file, '--json'])
    expect(made.code, made.stderr).toBe(0)
    expect(made.stderr).toMatch(/created the checkpoint signing key/)
    const checkpoint = JSON.parse(made.stdout) as {seq: number; hash: string; kid: string; jws: string; warnings?: string[]}
    // The new key is a warning: on stderr for a person, and in the --json result for a script.
    const keyFile = join(env.RAIOPS_HOME, 'audit-signing.key')
    expect(made.stderr).toBe(`Warning: created the checkpoint signing key ${keyFile} (public key: ${keyFile}.pub); keep it off the database host\n`)
    expect(checkpoint.warnings).toEqual([`created the checkpoint signing key ${keyFile} (public key: ${keyFile}.pub); keep it off the database host`])
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      format: 'raiops-audit-checkpoint-v1',
      seq: checkpoint.seq,
      hash: checkpoint.hash,
    })
    expect(statSync(join(env.RAIOPS_HOME, 'audit-signing.key')).mode & 0o777).toBe(0o600)
    expect(existsSync(join(env.RAIOPS_HOME, 'audit-signing.key.pub'))).toBe(true)
    // A second checkpoint reuses the key.
    const again = await cli(['audit:checkpoint', '--output', join(home.path, 'again.json'), '--json'])
    expect(again.stderr).not.toMatch(/created/)
    expect(JSON.parse(again.stdout) as {kid: string}).toMatchObject({kid: checkpoint.kid})
    expect(JSON.parse(again.stdout)).not.toHaveProperty('warnings')

    const verified = await cli(['audit:verify', '--checkpoint', file])
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/intact: .*1 checkpoint\(s\) verified/)
  })

  it('a chain re-computed after an edit passes the walk but not the checkpoint: exit 1 naming the checkpointed entry', async () => {
    const file = join(home.path, 'head.json')
    const {seq} = JSON.parse(readFileSync(file, 'utf8')) as {seq: number}
    const copy = copyHome('rechained')
    copy.db.prepare(`update audit_logs set new_values = replace(new_values, 'rai_one', 'rai_evil') where action = 'rds.add'`).run()
    rechain(copy.db)
    copy.db.close()
    const plain = await cli(['audit:verify'], {env: copy.env})
    expect(plain.code, 'the re-computed chain is consistent in itself').toBe(0)
    const checked = await cli(['audit:verify', '--checkpoint', file, '--public-key', join(env.RAIOPS_HOME, 'audit-signing.key.pub'), '--json'], {env: copy.env})
    expect(checked.code).toBe(1)
    const report = JSON.parse(checked.stdout) as {ok: boolean; firstBad: {seq: number; reason: string}}
    expect(report.firstBad.seq).toBe(seq)
    expect(report.firstBad.reason).toMatch(/differs from the checkpoint signed at .*rewritten at or before/)
  })

  it('a tail truncated below the checkpoint (head moved back to match) is caught', async () => {
    const file = join(home.path, 'head.json')
    const {seq} = JSON.parse(readFileSync(file, 'utf8')) as {seq: number}
    const copy = copyHome('truncated')
    copy.db.prepare('delete from audit_logs where seq >= ?').run(seq - 1)
    rechain(copy.db)
    copy.db.close()
    expect((await cli(['audit:verify'], {env: copy.env})).code).toBe(0)
    const checked = await cli(['audit:verify', '--checkpoint', file, '--public-key', join(env.RAIOPS_HOME, 'audit-signing.key.pub')], {
      env: copy.env,
    })
    expect(checked.code).toBe(1)
    expect(checked.stdout).toMatch(new RegExp(`^broken at sequence ${seq - 1}: entries up to sequence ${seq} \\(checkpoint signed at .*\\) were removed`))
  })

  it('a forged or foreign checkpoint is refused: exit 2, one line', async () => {
    const file = join(home.path, 'head.json')
    const original = JSON.parse(readFileSync(file, 'utf8')) as {jws: string; seq: number}
    const [header, payload, signature] = original.jws.split('.')
    const forgedPayload = Buffer.from(JSON.stringify({...JSON.parse(Buffer.from(payload, 'base64url').toString()), seq: original.seq + 100})).toString(
      'base64url',
    )
    const forged = join(home.path, 'forged.json')
    writeFileSync(forged, JSON.stringify({...original, seq: original.seq + 100, jws: `${header}.${forgedPayload}.${signature}`}))
    const refused = await cli(['audit:verify', '--checkpoint', forged])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/signature does not verify/)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)

    // Signed with another key: the pinned public key does not verify it.
    const foreign = join(home.path, 'foreign.json')
    const signed = await cli(['audit:checkpoint', '--output', foreign, '--key', join(home.path, 'other.key')])
    expect(signed.code, signed.stderr).toBe(0)
    expect((await cli(['audit:verify', '--checkpoint', foreign])).code).toBe(2)
    expect((await cli(['audit:verify', '--checkpoint', join(home.path, 'nope.json')])).code).toBe(2)
    writeFileSync(join(home.path, 'junk.json'), 'not json')
    expect((await cli(['audit:verify', '--checkpoint', join(home.path, 'junk.json')])).code).toBe(2)
  })
})

describe('audit:tail against a MariaDB control database that restarts', () => {
  let home: TestDir
  let control: TestDatabase
  let proxy: FaultProxy
  let env: Record<string, string>
  let session: CliSession

  beforeAll(async () => {
    home = createTestDir('raiops-audit-tail-')
    control = await createTestDatabase('mysql', 'raiops_tail')
    proxy = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port})
    const url = new URL(control.url)
    url.port = String(proxy.port)
    // In-process, but for the `--follow` runs (startCli), which the test cuts off from the database and stops with Ctrl-C.
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'tail-admin-password-1',
      env: {RAIOPS_DATABASE_URL: url.toString(), RAIOPS_CONNECT_TIMEOUT_MS: '1000'},
      runner: 'in-process',
    })
    env = session.env
  })

  afterAll(async () => {
    await proxy?.close()
    await control?.drop()
    home?.drop()
  })

  /** Once the tail has printed the last entry there was (-n 1): it has read the database, and follows it. */
  async function following(tail: BackgroundCli): Promise<void> {
    await waitFor(() => tail.output.stdout.trim() !== '', {what: 'the tail printing the last entry', timeoutMs: 30_000})
  }

  it('reconnects with back-off and says so on stderr, then prints what landed meanwhile', async () => {
    const tail = startCli(['audit:tail', '-n', '1', '--follow', '--interval', '0.2', '--max-retries', '50', '--json'], {env})
    await following(tail)
    await proxy.setMode('refuse')
    await waitFor(() => /control database unreachable \(attempt 2 of 50\)/.test(tail.output.stderr), {what: 'two failed polls'})
    // A change made while the tail cannot see the database (straight to the server, not through the proxy).
    const added = await session.run(
      ['rds:add', '--name', 'meanwhile', '--host', '127.0.0.1', '--port', '3306', '--username', 'root', '--rai-database', 'rai_m', '--no-test', '--no-input'],
      {env: {RAIOPS_DATABASE_URL: control.url}},
    )
    expect(added.code, added.stderr).toBe(0)
    await proxy.setMode('pass')
    await waitFor(() => tail.output.stdout.includes('meanwhile'), {what: 'the entry written during the outage', timeoutMs: 40_000})
    expect(tail.output.stderr).toMatch(/control database reachable again after \d+ failed attempt/)
    tail.child.kill('SIGINT')
    // Ctrl-C ends a follow: exit 130.
    expect(await tail.exited).toBe(130)
    // The last entry there was, then the one written during the outage.
    const lines = tail.output.stdout.trim().split('\n')
    expect(lines).toHaveLength(2)
    expect((JSON.parse(lines[1]) as {action: string}).action).toBe('rds.add')
    expect(lines[1]).toContain('meanwhile')
  }, 60_000)

  it('exits 1 after --max-retries failed polls in a row', async () => {
    const tail = startCli(['audit:tail', '-n', '1', '--follow', '--interval', '0.1', '--max-retries', '2'], {env})
    await following(tail)
    await proxy.setMode('refuse')
    try {
      expect(await tail.exited).toBe(1)
    } finally {
      await proxy.setMode('pass')
    }
    expect(tail.output.stderr).toMatch(/attempt 2 of 2/)
    expect(tail.output.stderr).toMatch(/Error: the control database did not answer 3 polls in a row/)
  }, 60_000)
})
