import {describe, expect, it} from 'vitest'

import {sqlTime, tsvField} from '../../src/lib/db/load-data.js'

/**
 * A field as MySQL's LOAD DATA reads it with FIELDS TERMINATED BY '\t'
 * ESCAPED BY '\\' LINES TERMINATED BY '\n': the oracle the encoder must meet.
 */
function readField(text: string): string | null {
  if (text === '\\N') return null
  const unescape: Record<string, string> = {'0': '\0', t: '\t', n: '\n', r: '\r', '\\': '\\', b: '\b', Z: '\x1a'}
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c !== '\\') {
      out += c
      continue
    }
    const next = text[++i]
    if (next === undefined) throw new Error(`a lone backslash ends ${JSON.stringify(text)}`)
    out += unescape[next] ?? next
  }
  return out
}

/** The toISOString rendering of DATETIME(3): what sqlTime must equal. */
const isoSqlTime = (ms: number): string => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')

describe('tsvField: a value as LOAD DATA reads it', () => {
  it('writes NULL as \\N and the empty string as nothing, so the two stay apart', () => {
    expect(tsvField(null)).toBe('\\N')
    expect(tsvField('')).toBe('')
    expect(readField(tsvField(null))).toBeNull()
    expect(readField(tsvField(''))).toBe('')
  })

  it('escapes the field and line separators, carriage returns, NUL and the escape character itself', () => {
    expect(tsvField('a\tb')).toBe('a\\tb')
    expect(tsvField('a\nb')).toBe('a\\nb')
    expect(tsvField('a\r\nb')).toBe('a\\r\\nb')
    expect(tsvField('a\0b')).toBe('a\\0b')
    expect(tsvField('C:\\path')).toBe('C:\\\\path')
    expect(tsvField('\\')).toBe('\\\\')
  })

  it('keeps a text that reads like NULL a text: \\N as two characters becomes \\\\N, N stays N', () => {
    expect(tsvField('\\N')).toBe('\\\\N')
    expect(readField(tsvField('\\N'))).toBe('\\N')
    expect(tsvField('N')).toBe('N')
    expect(tsvField('NULL')).toBe('NULL')
  })

  it('leaves non-ASCII text, quotes and spaces as they are', () => {
    for (const text of ['josé@exämple.com', '東京@例え.jp', 'emoji😀@x.io', 'o\'brien "quoted" @x.com', ' padded ', 'ß']) {
      expect(tsvField(text)).toBe(text)
    }
  })

  it('never lets a raw tab or newline through, and reads back to the same text for any mix of special characters', () => {
    const alphabet = ['\\', '\t', '\n', '\r', '\0', 'a', 'N', 'é', '😀', ' ', "'", '"']
    let seed = 12_345
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(random() * 12)
      const text = Array.from({length}, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
      const field = tsvField(text)
      expect(field).not.toMatch(/[\t\n\r\0]/)
      expect(readField(field)).toBe(text)
    }
  })

  it('writes numbers as their digits and dates as DATETIME(3) in UTC', () => {
    expect(tsvField(0)).toBe('0')
    expect(tsvField(9_007_199_254_740_991)).toBe('9007199254740991')
    expect(tsvField(new Date('2024-02-29T23:59:59.999Z'))).toBe('2024-02-29 23:59:59.999')
    expect(tsvField(new Date('1970-01-01T00:00:00.000Z'))).toBe('1970-01-01 00:00:00.000')
  })
})

describe('sqlTime: DATETIME(3) text in UTC', () => {
  it('renders the boundaries of a day, a leap day, the epoch and times before it as toISOString does', () => {
    const cases = [
      ['1970-01-01T00:00:00.000Z', '1970-01-01 00:00:00.000'],
      ['2024-02-29T00:00:00.000Z', '2024-02-29 00:00:00.000'],
      ['2024-02-29T23:59:59.999Z', '2024-02-29 23:59:59.999'],
      ['1999-12-31T23:59:59.001Z', '1999-12-31 23:59:59.001'],
      ['2038-01-19T03:14:08.010Z', '2038-01-19 03:14:08.010'],
      ['1969-12-31T23:59:59.999Z', '1969-12-31 23:59:59.999'],
      ['1900-03-01T12:30:45.100Z', '1900-03-01 12:30:45.100'],
    ] as const
    for (const [iso, expected] of cases) expect(sqlTime(Date.parse(iso))).toBe(expected)
  })

  it('agrees with toISOString across more days than it remembers, before and after it forgets them', () => {
    const start = Date.parse('2000-01-01T00:00:00Z')
    const day = 86_400_000
    // 10,050 days: its cache of day prefixes (10,000) fills and is cleared on the way.
    for (let d = 0; d < 10_050; d++) {
      const ms = start + d * day + ((d * 7_919_113) % day)
      expect(sqlTime(ms)).toBe(isoSqlTime(ms))
    }
    for (const ms of [start, start + 1, start + day - 1, start + 5000 * day + 3_600_000 * 13 + 61_001]) expect(sqlTime(ms)).toBe(isoSqlTime(ms))
  })
})
