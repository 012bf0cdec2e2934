import bcrypt from 'bcryptjs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {login} from '../../src/lib/auth/login.js'
import {DUMMY_PASSWORD_HASH, hashPassword, PASSWORD_COST} from '../../src/lib/auth/passwords.js'
import {initRaiops} from '../../src/lib/setup/init.js'
import {changeContext} from '../support/context.js'
import {createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ADMIN_PASSWORD = 'enumeration-admin-pw-1'

describe('a refused sign-in does not tell whether the email is an operator', () => {
  let home: TestDir
  // In-process: what is compared is what sign-in prints and its exit code, not the process around it.
  let session: CliSession

  beforeAll(async () => {
    home = createTestDir('raiops-enum-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      email: 'real@example.com',
      name: 'Real',
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
  })

  afterAll(() => home?.drop())

  it('the 1st to 7th failures of a real email (locked from the 5th) read exactly as those of an unknown one', async () => {
    const attempt = async (email: string) => {
      const result = await session.run(['auth:login', '--email', email, '--password-stdin'], {input: 'not-the-password-1\n'})
      return {code: result.code, stdout: result.stdout, stderr: result.stderr}
    }
    const real = []
    const unknown = []
    for (let i = 0; i < 7; i++) {
      real.push(await attempt('real@example.com'))
      unknown.push(await attempt('nobody@example.com'))
    }
    expect(real.every((r) => r.code === 5)).toBe(true)
    expect(real).toEqual(unknown)
    expect(new Set(real.map((r) => r.stderr)).size).toBe(1)
    expect(real[0].stderr).not.toMatch(/real@example\.com/)
    // The real email is locked all the same: the right password is refused now, with the same line.
    const right = await session.run(['auth:login', '--email', 'real@example.com', '--password-stdin'], {input: `${ADMIN_PASSWORD}\n`})
    expect({code: right.code, stdout: right.stdout, stderr: right.stderr}).toEqual(unknown[0])
  })
})

describe('the password check of an unknown or locked email', () => {
  let control: TestControlDb

  beforeAll(async () => {
    control = await createControlDb('sqlite', {migrate: false})
    await initRaiops(changeContext(control.db), {
      target: control.target,
      home: '/nonexistent',
      masterKey: 'k1:' + Buffer.alloc(32, 7).toString('base64'),
      masterKeyFile: '/nonexistent/master.key',
      admin: async () => ({email: 'real@example.com', name: 'Real', password: ADMIN_PASSWORD}),
      bcryptCost: 4,
    })
  })

  afterAll(() => control?.drop())

  it('the dummy hash costs what a real hash costs', async () => {
    expect(bcrypt.getRounds(DUMMY_PASSWORD_HASH)).toBe(PASSWORD_COST)
    expect(bcrypt.getRounds(await hashPassword('any-password-at-all'))).toBe(PASSWORD_COST)
  })

  it('runs a full bcrypt comparison against the dummy hash, as for a real email', async () => {
    const compare = vi.spyOn(bcrypt, 'compare')
    try {
      await expect(login(changeContext(control.db), {email: 'nobody@example.com', password: 'whatever-password-1'})).rejects.toThrow(/wrong email or password/)
      expect(compare).toHaveBeenCalledTimes(1)
      expect(compare.mock.calls[0][1]).toBe(DUMMY_PASSWORD_HASH)
      await expect(compare.mock.results[0].value).resolves.toBe(false)

      compare.mockClear()
      await expect(login(changeContext(control.db), {email: 'real@example.com', password: 'whatever-password-1'})).rejects.toThrow(/wrong email or password/)
      expect(compare).toHaveBeenCalledTimes(1)
      expect(compare.mock.calls[0][1]).toMatch(/^\$2y\$04\$/)

      // Locked: the stored hash is not consulted, the dummy is.
      await control
        .db('operators')
        .where({email: 'real@example.com'})
        .update({locked_until: new Date(Date.now() + 60_000)})
      compare.mockClear()
      await expect(login(changeContext(control.db), {email: 'real@example.com', password: ADMIN_PASSWORD})).rejects.toThrow(/wrong email or password/)
      expect(compare).toHaveBeenCalledTimes(1)
      expect(compare.mock.calls[0][1]).toBe(DUMMY_PASSWORD_HASH)
    } finally {
      compare.mockRestore()
    }
  })
})
