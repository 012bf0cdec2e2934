import {describe, expect, it} from 'vitest'

import {maskEmail, maskEmails, seesPii} from '../../src/lib/auth/pii.js'

describe('email masking', () => {
  it('keeps the first character and the domain', () => {
    expect(maskEmail('john@example.com')).toBe('j***@example.com')
    expect(maskEmail('a@b.example')).toBe('a***@b.example')
    expect(maskEmail('user:42 <Ana.Lopez+x@mail.example.org>')).toBe('user:42 <A***@mail.example.org>')
    expect(maskEmail('no email here')).toBe('no email here')
  })

  it('walks objects and arrays, keeping keys, numbers and nulls', () => {
    expect(maskEmails({email: 'ana@example.com', list: ['bo@example.com', 3, null], nested: {note: 'cc ana@example.com'}})).toEqual({
      email: 'a***@example.com',
      list: ['b***@example.com', 3, null],
      nested: {note: 'cc a***@example.com'},
    })
  })

  it('pii.view alone lifts it', () => {
    expect(seesPii(['rds.view', 'pii.view'])).toBe(true)
    expect(seesPii(['rds.view'])).toBe(false)
    expect(seesPii(undefined)).toBe(false)
  })
})
