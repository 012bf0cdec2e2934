import {decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload} from 'jose'
import {generateKeyPairSync, type KeyObject} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {verifyAuditChain} from '../../src/lib/audit/verify.js'
import {keyId, readEd25519PublicKey} from '../../src/lib/crypto/ed25519.js'
import {consumeImpersonation, ImpersonationRefusedError, type ImpersonationRefusal} from '../../src/lib/impersonation/consume.js'
import {issueImpersonation, type ImpersonationLink} from '../../src/lib/impersonation/issue.js'
import {addRds} from '../../src/lib/rds/service.js'
import {makeContext, TEST_AUDIT} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir, type TestDir} from '../support/servers.js'

const APP = 'https://eu.rai.example'
const REASON = 'customer cannot see the March invoices'

async function refusedFor(promise: Promise<unknown>): Promise<ImpersonationRefusal> {
  const error = await promise.then(
    () => {
      throw new Error('the token was accepted')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ImpersonationRefusedError)
  const refused = error as ImpersonationRefusedError
  expect(refused.exitCode).toBe(5)
  expect(refused.message).not.toContain('\n')
  return refused.reason
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe.each(CONTROL_ENGINES)('impersonation links on a %s control database', (engine) => {
  let control: TestControlDb
  let home: TestDir
  let ctx: ReturnType<typeof makeContext>
  let tenantId: number
  let publicKey: KeyObject

  const issue = (extra: {ttlSeconds?: number; ticket?: string} = {}): Promise<ImpersonationLink> =>
    issueImpersonation(ctx, {tenant: `main:17`, reason: REASON, ...extra, home: home.path})
  const consume = (token: string, options: {audience?: string; now?: Date} = {}) =>
    consumeImpersonation({db: control.db, now: () => options.now ?? new Date()}, {token, publicKey, audience: options.audience ?? APP})
  const usedAt = async (jti: string) => (await control.db('impersonations').where({jti}).first('used_at'))!.used_at as unknown

  beforeAll(async () => {
    control = await createControlDb(engine)
    home = createTestDir('raiops-imp-')
    ctx = makeContext(control.db)
    const {rds} = await addRds(ctx, {name: 'main', engine: 'sqlite', raiDatabase: '/tmp/rai-main.sqlite', appUrl: `${APP}/`, test: false})
    const now = new Date()
    await control.db('tenant_master').insert({rds_instance_id: rds.id, remote_tenant_id: 17, name: 'Acme', status: 'active', created_at: now, updated_at: now})
    tenantId = Number((await control.db('tenant_master').where({remote_tenant_id: 17}).first('id'))!.id)
  })

  afterAll(async () => {
    await ctx?.close()
    await control?.drop()
    home?.drop()
  })

  it('signs an EdDSA token for the tenant with the caller as actor, records it and audits it without the token', async () => {
    const link = await issue({ticket: 'SUP-1234'})
    expect(statSync(join(home.path, 'impersonation.key')).mode & 0o777).toBe(0o600)
    expect(statSync(join(home.path, 'impersonation.pub')).mode & 0o777).toBe(0o644)
    publicKey = readEd25519PublicKey(join(home.path, 'impersonation.pub'))
    expect(link).toMatchObject({
      url: `${APP}/raiops/impersonate?token=${link.token}`,
      tenant: {id: tenantId, remoteTenantId: 17, name: 'Acme', status: 'active'},
      rds: {name: 'main'},
      audience: APP,
      actor: TEST_AUDIT.actor,
      reason: REASON,
      ticket: 'SUP-1234',
      keyId: keyId(publicKey),
      keyCreated: true,
      ttlSeconds: 300,
    })
    expect(decodeProtectedHeader(link.token)).toEqual({alg: 'EdDSA', typ: 'raiops-imp+jwt', kid: keyId(publicKey)})
    const claims = decodeJwt(link.token)
    expect(claims).toMatchObject({
      iss: 'raiops',
      aud: APP,
      sub: '17',
      tenant_id: 17,
      act: {sub: TEST_AUDIT.actor},
      jti: link.jti,
      reason: REASON,
      ticket: 'SUP-1234',
    })
    expect((claims.exp as number) - (claims.iat as number)).toBe(300)
    expect(new Date((claims.exp as number) * 1000).toISOString()).toBe(link.expiresAt)

    const rows = await control.db('impersonations').select('jti', 'operator', 'tenant_master_id', 'reason', 'ticket', 'used_at', 'expires_at')
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({jti: link.jti, operator: TEST_AUDIT.actor, reason: REASON, ticket: 'SUP-1234', used_at: null})
    expect(Number(rows[0].tenant_master_id)).toBe(tenantId)

    const audit = await control.db('audit_logs').where({action: 'tenant.impersonate'}).select()
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({target_type: 'tenant', target_id: String(tenantId), old_values: null})
    expect(Number(audit[0].tenant_master_id)).toBe(tenantId)
    expect(Number(audit[0].rds_instance_id)).toBe(link.rds.id)
    expect(JSON.parse(audit[0].new_values!)).toEqual({
      jti: link.jti,
      reason: REASON,
      ticket: 'SUP-1234',
      audience: APP,
      keyId: link.keyId,
      ttlSeconds: 300,
      expiresAt: link.expiresAt,
      ghostUserId: null,
    })
    // raiops itself acts here: no operator, so no ghost user and no claim.
    expect(link.ghostUser).toEqual({userId: null, email: null, missing: 'no-operator', error: null})
    expect(claims.ghost_user_id).toBeUndefined()
    expect(JSON.stringify(audit)).not.toContain(link.token)
    expect(JSON.stringify(audit)).not.toContain(link.token.split('.')[2])
    expect(await verifyAuditChain({db: control.db})).toMatchObject({ok: true})

    // The application accepts it once.
    const accepted = await consume(link.token)
    expect(accepted).toMatchObject({
      jti: link.jti,
      tenantId: 17,
      actor: TEST_AUDIT.actor,
      audience: APP,
      reason: REASON,
      ticket: 'SUP-1234',
      expiresAt: link.expiresAt,
    })
    expect(await usedAt(link.jti)).not.toBeNull()
    expect(await refusedFor(consume(link.token))).toBe('used')
  })

  it('of several uses at the same moment, exactly one succeeds', async () => {
    const link = await issue()
    expect(link.keyCreated).toBe(false)
    const outcomes = await Promise.allSettled(Array.from({length: 6}, () => consume(link.token)))
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
    for (const outcome of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected'))
      expect((outcome.reason as ImpersonationRefusedError).reason).toBe('used')
  })

  it('refuses an expired token and one for another application, leaving it unused', async () => {
    const link = await issue({ttlSeconds: 30})
    expect(link.ttlSeconds).toBe(30)
    expect(await refusedFor(consume(link.token, {now: new Date(Date.parse(link.expiresAt) + 1000)}))).toBe('expired')
    expect(await refusedFor(consume(link.token, {audience: 'https://us.rai.example'}))).toBe('audience')
    expect(await usedAt(link.jti)).toBeNull()
  })

  it('refuses a token signed by another key, with HS256 or with no signature, without burning the genuine one', async () => {
    const link = await issue()
    const claims = decodeJwt(link.token) as JWTPayload
    const other = generateKeyPairSync('ed25519')
    const forgeries = [
      await new SignJWT(claims).setProtectedHeader({alg: 'EdDSA', typ: 'raiops-imp+jwt', kid: link.keyId}).sign(other.privateKey),
      // The classic confusion: the public key's PEM used as an HMAC secret.
      await new SignJWT(claims)
        .setProtectedHeader({alg: 'HS256', typ: 'raiops-imp+jwt'})
        .sign(new TextEncoder().encode(readFileSync(join(home.path, 'impersonation.pub'), 'utf8'))),
      `${base64url({alg: 'none', typ: 'raiops-imp+jwt'})}.${base64url(claims)}.`,
      // The genuine header and signature over altered claims.
      `${link.token.split('.')[0]}.${base64url({...claims, sub: '18', tenant_id: 18})}.${link.token.split('.')[2]}`,
    ]
    for (const forged of forgeries) expect(await refusedFor(consume(forged))).toBe('invalid')
    expect(await usedAt(link.jti)).toBeNull()
    expect((await consume(link.token)).jti).toBe(link.jti)
  })

  it('refuses a link whose expiry was brought forward in the registry', async () => {
    const link = await issue()
    await control
      .db('impersonations')
      .where({jti: link.jti})
      .update({expires_at: new Date(Date.now() - 1000)})
    expect(await refusedFor(consume(link.token))).toBe('expired')
    expect(await usedAt(link.jti)).toBeNull()
  })

  it('refuses a validly signed token that is not on record', async () => {
    const link = await issue()
    await control.db('impersonations').where({jti: link.jti}).delete()
    expect(await refusedFor(consume(link.token))).toBe('unknown')
  })

  it("takes the lifetime and audience from the RDS's settings, never above 5 minutes", async () => {
    await control.db('rds_instances').where({name: 'main'}).update({impersonation_ttl_seconds: 120, impersonation_audience: 'rai-eu'})
    try {
      const link = await issue()
      expect(link).toMatchObject({ttlSeconds: 120, audience: 'rai-eu'})
      expect(await refusedFor(consume(link.token))).toBe('audience')
      expect((await consume(link.token, {audience: 'rai-eu'})).tenantId).toBe(17)
      await control.db('rds_instances').where({name: 'main'}).update({impersonation_ttl_seconds: 3600})
      expect((await issue()).ttlSeconds).toBe(300)
      expect((await issue({ttlSeconds: 45})).ttlSeconds).toBe(45)
    } finally {
      await control.db('rds_instances').where({name: 'main'}).update({impersonation_ttl_seconds: null, impersonation_audience: null})
    }
  })

  it('refuses bad requests before writing anything', async () => {
    const before = {links: await control.db('impersonations').count({n: '*'}), audit: await control.db('audit_logs').count({n: '*'})}
    const attempts: Array<[Omit<Parameters<typeof issueImpersonation>[1], 'home'>, RegExp]> = [
      [{tenant: 'main:17', reason: '   '}, /--reason must say why/],
      [{tenant: 'main:17', reason: 'because'}, /--reason is too short/],
      [{tenant: 'main:17', reason: 'x'.repeat(501)}, /--reason is too long/],
      [{tenant: 'main:17', reason: `${REASON}\nsecond line`}, /--reason must be one line/],
      [{tenant: 'main:17', reason: REASON, ttlSeconds: 301}, /valid for 30 s to 5 minutes, not 301 s/],
      [{tenant: 'main:17', reason: REASON, ttlSeconds: 29}, /not 29 s/],
      [{tenant: 'main:18', reason: REASON}, /RDS "main" has no tenant 18/],
      [{tenant: '999999', reason: REASON}, /no tenant with id 999999/],
      [{tenant: 'eu:17', reason: REASON}, /no RDS named "eu"/],
      [{tenant: 'Nobody Ltd', reason: REASON}, /no tenant named "Nobody Ltd"/],
    ]
    for (const [input, message] of attempts) {
      const error = (await issueImpersonation(ctx, {...input, home: home.path}).catch((e: unknown) => e)) as Error & {exitCode?: number}
      expect(error.message, JSON.stringify(input)).toMatch(message)
      expect(error.exitCode).toBe(2)
    }
    expect({links: await control.db('impersonations').count({n: '*'}), audit: await control.db('audit_logs').count({n: '*'})}).toEqual(before)
  })
})
