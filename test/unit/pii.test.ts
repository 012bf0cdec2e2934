import {describe, expect, it} from 'vitest'

import {maskEmail, maskEmails, seesPii} from '../../src/lib/auth/pii.js'

describe('email masking', () => {
  it('keeps the first character and the domain', () => {
    expect(maskEmail('john@example.com')).toBe('j***@example.com')
    expect(maskEmail('a@b.example')).toBe('a***@b.example')
    expect(maskEmail('user:42 <Ana.Lopez+x@mail.example.org>')).toBe('user:42 <A***@mail.example.org>')
    expect(maskEmail('no email here')).toBe('no email here')
  })

  it('masks addresses in any script: Unicode local parts and domains, IDNs in either form, quoted local parts, address literals', () => {
    expect(maskEmail('vïctim7@cörp.example')).toBe('v***@cörp.example')
    expect(maskEmail('actor <ïna@example.com>')).toBe('actor <ï***@example.com>')
    expect(maskEmail('josé.garcía@correo.españa.es')).toBe('j***@correo.españa.es')
    expect(maskEmail('用户@例子.广告')).toBe('用***@例子.广告')
    expect(maskEmail('пользователь@пример.рф')).toBe('п***@пример.рф')
    expect(maskEmail('user@xn--80akhbyknj4f.xn--p1ai')).toBe('u***@xn--80akhbyknj4f.xn--p1ai')
    expect(maskEmail("o'brien!x@example.com")).toBe('o***@example.com')
    expect(maskEmail('"john doe"@example.com')).toBe('"***@example.com')
    expect(maskEmail('root@[192.0.2.1]')).toBe('r***@[192.0.2.1]')
    expect(maskEmail('𝒜lice@example.com')).toBe('𝒜***@example.com')
    expect(maskEmail('see https://example.com and 10.0.0.1@3306')).toBe('see https://example.com and 10.0.0.1@3306')
  })

  it('masks a value under a __proto__ key (as JSON.parse makes it) and keeps it a property', () => {
    const masked = maskEmails(JSON.parse('{"__proto__": {"email": "victim@corp.example"}, "note": "x"}') as Record<string, unknown>)
    expect(Object.getPrototypeOf(masked)).toBe(Object.prototype)
    expect(JSON.stringify(masked)).toBe('{"__proto__":{"email":"v***@corp.example"},"note":"x"}')
  })

  it('reads a long text without an address in one pass', () => {
    const text = `${'a'.repeat(60_000)}@`
    expect(maskEmail(text)).toBe(text)
  })

  it('walks objects and arrays, keeping keys, numbers and nulls', () => {
    expect(maskEmails({email: 'ana@example.com', list: ['bo@example.com', 3, null], nested: {note: 'cc ana@example.com'}})).toEqual({
      email: 'a***@example.com',
      list: ['b***@example.com', 3, null],
      nested: {note: 'cc a***@example.com'},
    })
  })

  it('masks addresses sent as keys, at any depth, keeping two keys that mask alike apart', () => {
    expect(
      maskEmails({
        'vïctim7@cörp.example': {role: 'admin'},
        list: [{'ana@example.com': 1, 'anna@example.com': 2}],
        'cc ana@example.com': 'bo@example.com',
        id: 7,
      }),
    ).toEqual({
      'v***@cörp.example': {role: 'admin'},
      list: [{'a***@example.com': 1, 'a***@example.com 2': 2}],
      'cc a***@example.com': 'b***@example.com',
      id: 7,
    })
  })

  it('pii.view alone lifts it', () => {
    expect(seesPii(['rds.view', 'pii.view'])).toBe(true)
    expect(seesPii(['rds.view'])).toBe(false)
    expect(seesPii(undefined)).toBe(false)
  })
})
