import {createHmac} from 'node:crypto'
import {request} from 'node:http'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {verifyAuditChain} from '../../src/lib/audit/verify.js'
import {startWebhookServer, type WebhookServer} from '../../src/lib/webhook/server.js'
import {queryControlDb, RAW_CONTROL, type CliResult} from '../support/cli.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, killStartedClis, startCli, waitFor, type BackgroundCli, type CliSession} from '../support/session.js'

const SECRET = 'webhook-secret-current-0123'
const OLD_SECRET = 'webhook-secret-previous-4567'
const ADMIN_PASSWORD = 'webhook-admin-password-1'
const PATH = '/api/webhooks/rai/audit'

const sign = (body: string, secret = SECRET, t = Math.floor(Date.now() / 1000)) =>
  `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`

type Serve = BackgroundCli & {url: string}

/**
 * `audit:serve --port 0` started in the background with `env`, once it says where
 * it listens. A process of its own: it serves while other commands run, and a
 * test ends it with SIGTERM.
 */
async function startServe(env: Record<string, string>): Promise<Serve> {
  const server = startCli(['audit:serve', '--port', '0'], {env})
  const listening = /listening on (http:\/\/[^/]+)/
  await waitFor(() => listening.test(server.output.stderr), {timeoutMs: 15_000, what: 'audit:serve to listen'}).catch((error: Error) => {
    throw new Error(`${error.message}; its stderr: ${server.output.stderr}`)
  })
  return {...server, url: (listening.exec(server.output.stderr) as RegExpExecArray)[1]}
}

function event(id: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    occurred_at: '2026-01-02T03:04:05Z',
    tenant_id: 3,
    rds_instance_id: 1,
    actor: {type: 'user', id: 42, email: 'a@b.example'},
    action: 'user.updated',
    target: {type: 'user', id: 42},
    old_values: {name: 'Ann', password: 'old-plain-password'},
    new_values: {name: 'Anna'},
    ...extra,
  })
}

describe('audit:serve, the signed webhook receiver', () => {
  let home: TestDir
  let env: Record<string, string>
  let server: Serve
  let session: CliSession
  const cli = (args: string[], options: {env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)

  const post = (body: string | Buffer, headers: Record<string, string> = {}, path = PATH) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      body,
      headers: {'content-type': 'application/json', 'x-raiops-signature': sign(String(body)), ...headers},
    })

  const stored = (): Array<{actor_type: string; actor: string; action: string; old_values: string; new_values: string; source: string}> =>
    queryControlDb(env.RAIOPS_HOME, "select actor_type, actor, action, old_values, new_values, source from audit_logs where actor_type = 'rai' order by seq")

  beforeAll(async () => {
    home = createTestDir('raiops-webhook-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_WEBHOOK_SECRETS: `${SECRET},${OLD_SECRET}`},
      runner: 'in-process',
    })
    env = session.env
    server = await startServe(env)
  })

  afterAll(async () => {
    killStartedClis()
    home?.drop()
    session?.expectNoSecretInTranscript(ADMIN_PASSWORD, SECRET, OLD_SECRET, 'old-plain-password')
  })

  it('stores a signed event as an rai audit entry in the chain, secrets redacted; a replay is acknowledged, not stored twice', async () => {
    const body = event('evt-1')
    const first = await post(body)
    expect(first.status).toBe(200)
    expect(await first.json()).toMatchObject({ok: true, duplicate: false})
    const again = await post(body)
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual({ok: true, duplicate: true})
    const rows = stored()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({actor_type: 'rai', actor: 'user:42 <a@b.example>', action: 'user.updated'})
    expect(JSON.parse(rows[0].old_values)).toEqual({name: 'Ann', password: '[redacted]'})
    expect(JSON.parse(rows[0].source)).toMatchObject({command: 'event evt-1 at 2026-01-02T03:04:05Z', ip: '127.0.0.1'})
    const verify = await cli(['audit:verify'])
    expect(verify.code, verify.stdout).toBe(0)
  })

  it('accepts the old secret during a rotation, and a header whose second v1 is the one that matches', async () => {
    expect((await post(event('evt-old'), {'x-raiops-signature': sign(event('evt-old'), OLD_SECRET)})).status).toBe(200)
    const body = event('evt-two')
    const t = Math.floor(Date.now() / 1000)
    const wrong = createHmac('sha256', 'not-the-secret-at-all').update(`${t}.${body}`).digest('hex')
    const right = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')
    expect((await post(body, {'x-raiops-signature': `t=${t},v1=${wrong},v1=${right}`})).status).toBe(200)
    expect(stored().map((r) => JSON.parse(r.source).command)).toEqual(
      expect.arrayContaining([expect.stringMatching(/evt-old/), expect.stringMatching(/evt-two/)]),
    )
  })

  it.each([
    ['a bad signature', () => post(event('bad-1'), {'x-raiops-signature': sign(event('bad-1'), 'some-other-secret-000')}), 401, /no signature matches/],
    [
      'no signature header',
      () => fetch(`${server.url}${PATH}`, {method: 'POST', body: event('bad-2'), headers: {'content-type': 'application/json'}}),
      401,
      /missing X-Raiops-Signature/,
    ],
    [
      'a stale timestamp',
      () => post(event('bad-3'), {'x-raiops-signature': sign(event('bad-3'), SECRET, Math.floor(Date.now() / 1000) - 301)}),
      401,
      /more than 300 s/,
    ],
    [
      'a timestamp from the future',
      () => post(event('bad-4'), {'x-raiops-signature': sign(event('bad-4'), SECRET, Math.floor(Date.now() / 1000) + 400)}),
      401,
      /more than 300 s/,
    ],
    ['a header without t', () => post(event('bad-5'), {'x-raiops-signature': sign(event('bad-5')).replace(/^t=\d+,/, '')}), 401, /no timestamp/],
    ['a v1 of the wrong length', () => post(event('bad-6'), {'x-raiops-signature': `${sign(event('bad-6')).slice(0, -2)}`}), 401, /64 hex digits/],
    ['a garbage header', () => post(event('bad-7'), {'x-raiops-signature': '=,,t=,v1=zz,=='}), 401, /no timestamp/],
    ['malformed JSON', () => post('{"id": "bad-8",'), 400, /not valid JSON/],
    ['an invalid event', () => post(event('bad-9', {occurred_at: 'yesterday'})), 422, /occurred_at/],
    ['an unknown field', () => post(event('bad-10', {extra: 1})), 422, /invalid event/],
    ['a body over 64 KiB', () => post(event('bad-11', {new_values: {blob: 'x'.repeat(70_000)}})), 413, /over 65536 bytes/],
    ['another content type', () => post(event('bad-12'), {'content-type': 'text/plain'}), 415, /application\/json/],
    ['GET on the webhook', () => fetch(`${server.url}${PATH}`), 405, /POST/],
    ['another path', () => post(event('bad-13'), {}, '/api/other'), 404, /not found/],
  ])('%s: the right 4xx, nothing stored, still serving', async (_name, send, status, message) => {
    const before = stored().length
    const response = await send()
    expect(response.status).toBe(status)
    expect(((await response.json()) as {error: string}).error).toMatch(message)
    expect(stored()).toHaveLength(before)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  })

  it('logs each request without a secret; SIGTERM lets a request in flight finish, then exits 0', async () => {
    const body = event('evt-slow')
    const url = new URL(`${server.url}${PATH}`)
    const response = new Promise<{status: number; body: string}>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: PATH,
          method: 'POST',
          headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-raiops-signature': sign(body)},
        },
        (res) => {
          let text = ''
          res.on('data', (d) => (text += d))
          res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}))
        },
      )
      req.on('error', reject)
      // Half the body now, the rest after SIGTERM.
      req.write(body.slice(0, 40))
      setTimeout(() => {
        server.child.kill('SIGTERM')
        setTimeout(() => req.end(body.slice(40)), 300)
      }, 200)
    })
    expect((await response).status).toBe(200)
    expect(await server.exited).toBe(0)
    expect(server.output.stderr).toMatch(/SIGTERM: finishing the requests in flight/)
    expect(stored().some((r) => JSON.parse(r.source).command.includes('evt-slow'))).toBe(true)
    expect(server.output.stdout).toMatch(/200 POST \/api\/webhooks\/rai\/audit evt-1 [\d.]+ ms: stored as audit entry \d+/)
    expect(server.output.stdout).toMatch(/401 POST .* no signature matches/)
    for (const text of [server.output.stdout, server.output.stderr]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(OLD_SECRET)
      expect(text).not.toContain('old-plain-password')
    }
  })

  it("tenants' users' emails are masked for a role without pii.view, in tables and --json alike", async () => {
    const created = await cli(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const viewer = {env: {RAIOPS_TOKEN: (JSON.parse(created.stdout) as {token: string}).token}}
    const masked = JSON.parse((await cli(['audit:list', '--actor', 'user:*', '--json'], viewer)).stdout) as Array<{
      actor: string
      newValues: Record<string, unknown>
    }>
    expect(masked.length).toBeGreaterThan(0)
    expect(masked.every((e) => e.actor === 'user:42 <a***@b.example>')).toBe(true)
    const table = await cli(['audit:list', '--actor', 'user:*'], viewer)
    expect(table.stdout).toContain('a***@b.example')
    expect(table.stdout).not.toContain('a@b.example')
    const admin = JSON.parse((await cli(['audit:list', '--actor', 'user:*', '--json'])).stdout) as Array<{actor: string}>
    expect(admin[0].actor).toBe('user:42 <a@b.example>')
  })

  it('refuses to start without secrets, or with a short one: exit 2, one line', async () => {
    for (const secrets of ['', 'short']) {
      const result = await cli(['audit:serve', '--port', '0'], {env: {RAIOPS_WEBHOOK_SECRETS: secrets}})
      expect(result.code).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/RAIOPS_WEBHOOK_SECRETS/)
    }
  })
})

/** An event's body with the string "<marker>" replaced by raw JSON text (too deep for JSON.stringify, or a number it cannot write). */
const withRaw = (body: string, marker: string, raw: string) => body.replace(`"${marker}"`, raw)
const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{"leaf":1}${'}'.repeat(depth - 1)}`

/** Signed events that no engine can store: each is refused for good (4xx with its reason), never "retry" (503). */
const POISON: Array<[string, (id: string) => string, RegExp]> = [
  ['values nested 5,000 deep', (id) => withRaw(event(id, {new_values: 'DEEP'}), 'DEEP', nested(5000)), /new_values: must not nest deeper than 32 levels/],
  ['values nested 33 deep', (id) => withRaw(event(id, {new_values: 'DEEP'}), 'DEEP', nested(33)), /new_values: must not nest deeper than 32 levels/],
  [
    'an rds_instance_id out of range of the integer columns',
    (id) => event(id, {rds_instance_id: 99_999_999_999_999}),
    /rds_instance_id: Number must be less than or equal to 2147483647/,
  ],
  ['a tenant_id beyond the safe integers', (id) => event(id, {tenant_id: 2 ** 60}), /tenant_id: Number must be less than or equal to 9007199254740991/],
  ['a NUL in the id', (id) => event(`${id}\u0000x`), /id: must not hold control characters/],
  ['a NUL in the action', (id) => event(id, {action: 'user.updated\u0000'}), /action: must not hold control characters/],
  ['an ESC in the action', (id) => event(id, {action: 'user.\u001b[2Jupdated'}), /action: must not hold control characters/],
  ['a C1 control in the target type', (id) => event(id, {target: {type: 'user\u009b', id: 1}}), /target\.type: must not hold control characters/],
  ['half a surrogate pair in the id', (id) => event(`${id}\ud800`), /id: must be valid Unicode text/],
  ['an actor id beyond the safe integers', (id) => event(id, {actor: {type: 'user', id: 1e20}}), /actor\.id/],
  ['a number JSON reads as infinity', (id) => withRaw(event(id, {new_values: {n: 'BIG'}}), 'BIG', '1e999'), /new_values: must not hold a number out of range/],
  [
    'values that outgrow their column once redacted',
    (id) => event(id, {old_values: null, new_values: {list: Array.from({length: 6000}, () => ({pin: 1}))}}),
    /new_values take \d+ bytes once redacted and serialised, over the 65535/,
  ],
]

describe('audit:serve: secrets, poison events, control characters and masking', () => {
  let home: TestDir
  let env: Record<string, string>
  let server: Serve
  let viewer: {env: Record<string, string>}
  let session: CliSession
  const cli = (args: string[], options: {env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)

  const post = (body: string) =>
    fetch(`${server.url}${PATH}`, {method: 'POST', body, headers: {'content-type': 'application/json', 'x-raiops-signature': sign(body)}})
  const rows = (): Array<{id: number; action: string; old_values: string | null; new_values: string | null; source: string}> =>
    queryControlDb(env.RAIOPS_HOME, "select id, action, old_values, new_values, source from audit_logs where actor_type = 'rai' order by seq")

  beforeAll(async () => {
    home = createTestDir('raiops-webhook-poison-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_WEBHOOK_SECRETS: SECRET},
      runner: 'in-process',
    })
    env = session.env
    const created = await cli(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    viewer = {env: {RAIOPS_TOKEN: (JSON.parse(created.stdout) as {token: string}).token}}
    server = await startServe(env)
  })

  afterAll(async () => {
    killStartedClis()
    home?.drop()
    session?.expectNoSecretInTranscript(ADMIN_PASSWORD, SECRET)
  })

  it('redacts secrets by key name in any case or separator, and by shape in any key; audit:show says which secret changed', async () => {
    const bcrypt = '$2y$04$g86itmUYqyrJIGu45kw5teCjm4hva8DGmKMHLf0yr7WdaJJplKdwG'
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg'
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPEMkeyMaterial0123\n-----END PRIVATE KEY-----'
    const keyed = {
      apiKey: 'sk-apikey-1111',
      privateKey: 'privatekey-2222',
      accessKey: 'AKIAACCESS3333',
      clientSecret: 'clientsecret-4444',
      pwd: 'pwd-5555',
      passcode: 'passcode-6666',
      otp: 'otp-777777',
      pin: 'pin-8888',
      jwt: 'jwt-9999',
      bearer: 'bearer-aaaa',
      cookie: 'cookie-bbbb',
      session_id: 'session-cccc',
      signature: 'signature-dddd',
      'X-Api-Key': 'xapikey-eeee',
      PASSWORD: 'upper-ffff',
    }
    const body = event('evt-secrets', {
      old_values: {...keyed, password: 'old-password-0001', name: 'Ann', pinned: true},
      new_values: {
        password: 'new-password-0002',
        name: 'Ann',
        pinned: true,
        note: `hash ${bcrypt}`,
        header: `Bearer ${jwt}`,
        material: pem,
      },
    })
    const response = await post(body)
    expect(response.status).toBe(200)
    const {audit_id: id} = (await response.json()) as {audit_id: number}
    const [row] = rows().filter((r) => r.id === id)
    const stored = `${row.old_values}${row.new_values}`
    for (const secret of [...Object.values(keyed), 'old-password-0001', 'new-password-0002', bcrypt, jwt, 'PEMkeyMaterial'])
      expect(stored).not.toContain(secret)
    expect(JSON.parse(row.old_values as string)).toMatchObject({
      apiKey: '[redacted]',
      session_id: '[redacted]',
      'X-Api-Key': '[redacted]',
      name: 'Ann',
      pinned: true,
    })
    expect(JSON.parse(row.new_values as string)).toMatchObject({
      password: '[redacted: changed]',
      note: 'hash [redacted]',
      header: 'Bearer [redacted]',
      material: '[redacted]',
    })

    const shown = await cli(['audit:show', String(id)])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/^\s+password: changed \(redacted\)$/m)
    expect(shown.stdout).toMatch(/^\s+apiKey: changed \(redacted\)$/m)
    expect(shown.stdout).not.toMatch(/no values recorded/)
    expect(shown.stdout).not.toMatch(/^\s+name$/m)
    const json = JSON.parse((await cli(['audit:show', String(id), '--json'])).stdout) as {
      changes: Array<{field: string; redacted?: boolean}>
    }
    expect(json.changes).toContainEqual({field: 'password', old: '[redacted]', new: '[redacted: changed]', redacted: true})

    // The same secret on both sides did not change, and is not shown as changed.
    const same = await post(event('evt-same-secret', {old_values: {password: 'same-0003', name: 'Bo'}, new_values: {password: 'same-0003', name: 'Bob'}}))
    const sameId = ((await same.json()) as {audit_id: number}).audit_id
    const sameShown = await cli(['audit:show', String(sameId)])
    expect(sameShown.stdout).not.toMatch(/password/)
    expect(sameShown.stdout).toMatch(/^\s+name\n\s+- Bo\n\s+\+ Bob$/m)
  })

  it.each(POISON)('%s: 422 with the reason, nothing stored, still serving', async (name, body, reason) => {
    const before = rows().length
    const response = await post(body(`evt-poison-${name.replace(/\W+/g, '-')}`))
    expect(response.status).toBe(422)
    expect(((await response.json()) as {error: string}).error).toMatch(reason)
    expect(rows()).toHaveLength(before)
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
  })

  it('stores what is within every limit: values 32 deep, the largest ids, long names in any script', async () => {
    const ok = [
      withRaw(event('evt-deep-32', {new_values: 'DEEP'}), 'DEEP', nested(32)),
      event('evt-max-ids', {tenant_id: 2_147_483_647, rds_instance_id: 2_147_483_647, actor: {type: 'user', id: Number.MAX_SAFE_INTEGER}}),
      // A tenant id is only looked up (remote ids are big integers), and an empty email is no email.
      event('evt-big-tenant', {tenant_id: 3_000_000_000, actor: {type: 'user', id: 7, email: ''}}),
      event('🔑'.repeat(191), {action: 'ä'.repeat(128), target: {type: 'ü'.repeat(64), id: '√'.repeat(64)}}),
    ]
    for (const body of ok) expect((await post(body)).status, body.slice(0, 80)).toBe(200)
    const verify = await cli(['audit:verify'])
    expect(verify.code, verify.stdout).toBe(0)
  })

  it('an event id holding a newline or ESC cannot forge an access log line; values with control characters are stored exactly and shown escaped', async () => {
    const forged = `evt-log\n2030-01-01T00:00:00.000Z 200 POST ${PATH} forged-entry 1 ms: stored as audit entry 1`
    expect((await post(event(forged))).status).toBe(422)
    expect((await post(event('evt-esc\u001b]0;owned\u0007'))).status).toBe(422)
    const note = 'line one\nline two\u001b[2J\u009b31m\u202egnp.exe'
    const response = await post(event('evt-note', {action: 'note.\u202eadded', new_values: {note}}))
    expect(response.status).toBe(200)
    const {audit_id: id} = (await response.json()) as {audit_id: number}
    await new Promise((resolve) => setTimeout(resolve, 200))
    const log = server.output.stdout.split('\n')
    expect(log.filter((line) => line.startsWith('2030-01-01'))).toEqual([])
    expect(log.filter((line) => /^\d{4}-\d\d-\d\dT/.test(line) || line === '')).toEqual(log)
    expect(server.output.stdout).not.toMatch(RAW_CONTROL)

    const shown = await cli(['audit:show', String(id)])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).not.toMatch(RAW_CONTROL)
    expect(shown.stdout).toContain('+ line one\\nline two\\u001b[2J\\u009b31m\\u202egnp.exe')
    expect(shown.stdout).toMatch(/Action\s+note\.\\u202eadded/)
    const listed = await cli(['audit:list', '--action', 'note.*'])
    expect(listed.stdout).toContain('note.\\u202eadded')
    expect(listed.stdout).not.toContain('\u202e')
    // JSON stays exact.
    const json = JSON.parse((await cli(['audit:show', String(id), '--json'])).stdout) as {
      action: string
      newValues: {note: string}
    }
    expect(json).toMatchObject({action: 'note.\u202eadded', newValues: {note}})
  })

  it('redacts a secret and masks an address sent as a key: stored redacted, shown masked in audit:show and audit:export', async () => {
    const hash = `$2b$10$${'N9qo8uLOickgx2ZMRZoMye'}${'IjZAgcfl7p92ldGxad68LJZdL17lhWy'}`
    const address = 'vïctim7@cörp.example'
    const response = await post(event('evt-secret-keys', {old_values: null, new_values: {[address]: {role: 'owner'}, [hash]: 'x', 'other@example.com': 1}}))
    expect(response.status).toBe(200)
    const {audit_id: id} = (await response.json()) as {audit_id: number}
    const [row] = rows().filter((r) => r.id === id)
    expect(row.new_values).not.toContain(hash)
    expect(JSON.parse(row.new_values as string)).toEqual({[address]: {role: 'owner'}, '[redacted]': 'x', 'other@example.com': 1})

    const shown = await cli(['audit:show', String(id)], viewer)
    const json = await cli(['audit:show', String(id), '--json'], viewer)
    const exported = await cli(['audit:export', '--format', 'ndjson', '--output', '-', '--action', 'user.updated'], viewer)
    for (const result of [shown, json, exported]) {
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).not.toContain(address)
      expect(result.stdout).not.toContain('other@example.com')
      expect(result.stdout).not.toContain(hash)
    }
    expect(shown.stdout).toMatch(/^\s+v\*\*\*@cörp\.example$/m)
    expect(shown.stdout).toMatch(/^\s+o\*\*\*@example\.com$/m)
    expect((JSON.parse(json.stdout) as {newValues: Record<string, unknown>}).newValues).toEqual({
      'v***@cörp.example': {role: 'owner'},
      '[redacted]': 'x',
      'o***@example.com': 1,
    })
    expect(exported.stdout).toContain('"v***@cörp.example":{"role":"owner"}')
    // pii.view sees the address as sent; nobody sees the hash.
    const admin = await cli(['audit:show', String(id)])
    expect(admin.stdout).toContain(address)
    expect(admin.stdout).not.toContain(hash)
  })

  it('masks every address for a role without pii.view, Unicode and IDN ones too', async () => {
    const addresses = ['vïctim7@cörp.example', 'josé@xn--crp-sna.example', 'пользователь@пример.рф']
    const response = await post(
      event('evt-unicode-mail', {
        actor: {type: 'user', id: 7, email: addresses[0]},
        new_values: {email: addresses[1], cc: `copy to ${addresses[2]}`},
      }),
    )
    expect(response.status).toBe(200)
    const json = await cli(['audit:list', '--action', 'user.updated', '--json'], viewer)
    const table = await cli(['audit:list', '--action', 'user.updated'], viewer)
    const shown = await cli(['audit:show', String(((await response.json()) as {audit_id: number}).audit_id)], viewer)
    for (const output of [json.stdout, table.stdout, shown.stdout]) for (const address of addresses) expect(output).not.toContain(address)
    expect(json.stdout).toContain('user:7 <v***@cörp.example>')
    expect(shown.stdout).toContain('j***@xn--crp-sna.example')
    expect(shown.stdout).toContain('copy to п***@пример.рф')
  })
})

describe.each(CONTROL_ENGINES)('the webhook receiver on a %s control database', (engine) => {
  let control: TestControlDb
  let receiver: WebhookServer

  const post = (body: string) =>
    fetch(`${receiver.url}${PATH}`, {method: 'POST', body, headers: {'content-type': 'application/json', 'x-raiops-signature': sign(body)}})
  const count = async () => Number(((await control.db('audit_logs').count({n: '*'})) as Array<{n: number | string}>)[0].n)

  beforeAll(async () => {
    control = await createControlDb(engine)
    receiver = await startWebhookServer({db: control.db, now: () => new Date()}, {secrets: [SECRET], toleranceS: 300, host: '127.0.0.1', port: 0})
  })
  afterAll(async () => {
    await receiver?.close(2000)
    await control?.drop()
  })

  it('refuses every poison event with a 4xx and stores nothing', async () => {
    for (const [name, body, reason] of POISON) {
      const response = await post(body(`evt-${engine}-${name.replace(/\W+/g, '-')}`))
      expect(response.status, name).toBe(422)
      expect(((await response.json()) as {error: string}).error, name).toMatch(reason)
    }
    expect(await count()).toBe(0)
  })

  it('stores events at every limit exactly as hashed: the chain verifies', async () => {
    const ok = [
      withRaw(event('evt-deep-32', {new_values: 'DEEP'}), 'DEEP', nested(32)),
      event('evt-max-ids', {tenant_id: 2_147_483_647, rds_instance_id: 2_147_483_647, actor: {type: 'user', id: Number.MAX_SAFE_INTEGER}}),
      // A tenant id is only looked up (remote ids are big integers), and an empty email is no email.
      event('evt-big-tenant', {tenant_id: 3_000_000_000, actor: {type: 'user', id: 7, email: ''}}),
      event('🔑'.repeat(191), {
        action: 'ä'.repeat(128),
        target: {type: 'ü'.repeat(64), id: '√'.repeat(64)},
        actor: {type: 'user', id: 1, email: `${'é'.repeat(240)}@x.example`},
      }),
      event('evt-big-values', {old_values: null, new_values: {blob: 'x'.repeat(65_000), note: 'nul \u0000 and esc \u001b inside values'}}),
    ]
    for (const body of ok) expect((await post(body)).status, body.slice(0, 80)).toBe(200)
    expect(await count()).toBe(ok.length)
    expect(await verifyAuditChain({db: control.db})).toMatchObject({ok: true, entries: ok.length})
  })
})
