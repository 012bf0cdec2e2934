import {spawn, type ChildProcess} from 'node:child_process'
import {createHmac} from 'node:crypto'
import {request} from 'node:http'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, runCli} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')
const SECRET = 'webhook-secret-current-0123'
const OLD_SECRET = 'webhook-secret-previous-4567'
const PATH = '/api/webhooks/rai/audit'

const sign = (body: string, secret = SECRET, t = Math.floor(Date.now() / 1000)) => `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`

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
  let server: {child: ChildProcess; url: string; stdout: string; stderr: string; exited: Promise<number | null>}

  async function start(extraEnv: Record<string, string> = {}, args: string[] = []) {
    const childEnv: Record<string, string> = {}
    for (const [k, v] of Object.entries({...process.env, NO_COLOR: '1', CI: '1', ...env, ...extraEnv})) if (v !== undefined) childEnv[k] = v
    delete childEnv.NODE_ENV
    const child = spawn(process.execPath, [bin, 'audit:serve', '--port', '0', ...args], {env: childEnv, stdio: ['ignore', 'pipe', 'pipe']})
    const state = {child, url: '', stdout: '', stderr: '', exited: new Promise<number | null>((resolve) => child.on('close', resolve))}
    child.stdout.on('data', (d) => (state.stdout += d))
    child.stderr.on('data', (d) => (state.stderr += d))
    const started = Date.now()
    while (!/listening on (http:\/\/[^/]+)/.test(state.stderr)) {
      if (Date.now() - started > 15_000) throw new Error(`audit:serve did not start: ${state.stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    state.url = /listening on (http:\/\/[^/]+)/.exec(state.stderr)?.[1] as string
    return state
  }

  const post = (body: string | Buffer, headers: Record<string, string> = {}, path = PATH) =>
    fetch(`${server.url}${path}`, {method: 'POST', body, headers: {'content-type': 'application/json', 'x-raiops-signature': sign(String(body)), ...headers}})

  const stored = (): Array<{actor_type: string; actor: string; action: string; old_values: string; new_values: string; source: string}> =>
    queryControlDb(env.RAIOPS_HOME, "select actor_type, actor, action, old_values, new_values, source from audit_logs where actor_type = 'rai' order by seq")

  beforeAll(async () => {
    home = createTestDir('raiops-webhook-')
    env = {RAIOPS_HOME: join(home.path, 'raiops'), RAIOPS_MASTER_KEY: '', RAIOPS_DATABASE_URL: '', RAIOPS_WEBHOOK_SECRETS: `${SECRET},${OLD_SECRET}`}
    const init = await runCli(['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin'], {env, input: 'webhook-admin-password-1\n'})
    expect(init.code, init.stderr).toBe(0)
    server = await start()
  })

  afterAll(async () => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL')
    home?.drop()
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
    const verify = await runCli(['audit:verify'], {env})
    expect(verify.code, verify.stdout).toBe(0)
  })

  it('accepts the old secret during a rotation, and a header whose second v1 is the one that matches', async () => {
    expect((await post(event('evt-old'), {'x-raiops-signature': sign(event('evt-old'), OLD_SECRET)})).status).toBe(200)
    const body = event('evt-two')
    const t = Math.floor(Date.now() / 1000)
    const wrong = createHmac('sha256', 'not-the-secret-at-all').update(`${t}.${body}`).digest('hex')
    const right = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex')
    expect((await post(body, {'x-raiops-signature': `t=${t},v1=${wrong},v1=${right}`})).status).toBe(200)
    expect(stored().map((r) => JSON.parse(r.source).command)).toEqual(expect.arrayContaining([expect.stringMatching(/evt-old/), expect.stringMatching(/evt-two/)]))
  })

  it.each([
    ['a bad signature', () => post(event('bad-1'), {'x-raiops-signature': sign(event('bad-1'), 'some-other-secret-000')}), 401, /no signature matches/],
    ['no signature header', () => fetch(`${server.url}${PATH}`, {method: 'POST', body: event('bad-2'), headers: {'content-type': 'application/json'}}), 401, /missing X-Raiops-Signature/],
    ['a stale timestamp', () => post(event('bad-3'), {'x-raiops-signature': sign(event('bad-3'), SECRET, Math.floor(Date.now() / 1000) - 301)}), 401, /more than 300 s/],
    ['a timestamp from the future', () => post(event('bad-4'), {'x-raiops-signature': sign(event('bad-4'), SECRET, Math.floor(Date.now() / 1000) + 400)}), 401, /more than 300 s/],
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
      const req = request({host: url.hostname, port: url.port, path: PATH, method: 'POST', headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-raiops-signature': sign(body)}}, (res) => {
        let text = ''
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}))
      })
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
    expect(server.stderr).toMatch(/SIGTERM: finishing the requests in flight/)
    expect(stored().some((r) => JSON.parse(r.source).command.includes('evt-slow'))).toBe(true)
    expect(server.stdout).toMatch(/200 POST \/api\/webhooks\/rai\/audit evt-1 [\d.]+ ms: stored as audit entry \d+/)
    expect(server.stdout).toMatch(/401 POST .* no signature matches/)
    for (const text of [server.stdout, server.stderr]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(OLD_SECRET)
      expect(text).not.toContain('old-plain-password')
    }
  })

  it("tenants' users' emails are masked for a role without pii.view, in tables and --json alike", async () => {
    const created = await runCli(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'], {env})
    expect(created.code, created.stderr).toBe(0)
    const viewer = {...env, RAIOPS_TOKEN: (JSON.parse(created.stdout) as {token: string}).token}
    const masked = JSON.parse((await runCli(['audit:list', '--actor', 'user:*', '--json'], {env: viewer})).stdout) as Array<{actor: string; newValues: Record<string, unknown>}>
    expect(masked.length).toBeGreaterThan(0)
    expect(masked.every((e) => e.actor === 'user:42 <a***@b.example>')).toBe(true)
    const table = await runCli(['audit:list', '--actor', 'user:*'], {env: viewer})
    expect(table.stdout).toContain('a***@b.example')
    expect(table.stdout).not.toContain('a@b.example')
    const admin = JSON.parse((await runCli(['audit:list', '--actor', 'user:*', '--json'], {env})).stdout) as Array<{actor: string}>
    expect(admin[0].actor).toBe('user:42 <a@b.example>')
  })

  it('refuses to start without secrets, or with a short one: exit 2, one line', async () => {
    for (const secrets of ['', 'short']) {
      const result = await runCli(['audit:serve', '--port', '0'], {env: {...env, RAIOPS_WEBHOOK_SECRETS: secrets}})
      expect(result.code).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/RAIOPS_WEBHOOK_SECRETS/)
    }
  })
})
