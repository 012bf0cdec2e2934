import {describe, expect, it} from 'vitest'

import {escapeXml, renderJunit} from '../../src/cli/output/junit.js'
import {renderPrometheus} from '../../src/cli/output/prometheus.js'
import {renderCsv, renderRecord, renderTable, type Column} from '../../src/cli/output/render.js'
import {UserError} from '../../src/lib/errors/index.js'
import {escapeControl, escapeControlDeep} from '../../src/lib/text/escape.js'
import {parseDuration, parseSeconds} from '../../src/lib/time/duration.js'
import {accessLogLine} from '../../src/lib/webhook/server.js'

describe('Prometheus text format', () => {
  it('escapes backslashes, quotes and newlines in label values, and writes HELP and TYPE once per family', () => {
    const text = renderPrometheus([
      {
        name: 'raiops_rds_up',
        help: 'up\nor not',
        type: 'gauge',
        samples: [
          {labels: {rds: 'a"b\\c\nd'}, value: 1},
          {labels: {rds: 'plain'}, value: 0},
        ],
      },
      {name: 'raiops_x', help: 'x', type: 'gauge', samples: [{labels: {}, value: Number.NaN}]},
    ])
    expect(text).toBe(
      [
        '# HELP raiops_rds_up up\\nor not',
        '# TYPE raiops_rds_up gauge',
        'raiops_rds_up{rds="a\\"b\\\\c\\nd"} 1',
        'raiops_rds_up{rds="plain"} 0',
        '# HELP raiops_x x',
        '# TYPE raiops_x gauge',
        'raiops_x NaN',
        '',
      ].join('\n'),
    )
  })
})

describe('JUnit XML', () => {
  it('escapes markup and drops characters XML forbids', () => {
    expect(escapeXml(`<a href="x">&'\u0001\u0007ok\uFFFE`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;ok')
    expect(escapeXml('emoji 🚀 stays')).toBe('emoji 🚀 stays')
  })

  it('counts failures and writes a failure element only for failed cases', () => {
    const xml = renderJunit({
      name: 'suite <1>',
      timestamp: '2026-01-02T03:04:05.000Z',
      time: 1.5,
      cases: [
        {classname: 'c', name: 'ok', time: 0.01},
        {
          classname: 'c',
          name: 'bad & down',
          time: 2,
          failure: {type: 'down', message: 'refused "x"', body: 'line1\nline2'},
          output: 'status: down',
        },
      ],
    })
    expect(xml).toContain('<testsuites name="suite &lt;1&gt;" tests="2" failures="1" errors="0" time="1.500">')
    expect(xml).toContain('<testcase classname="c" name="ok" time="0.010"/>')
    expect(xml).toContain('<failure type="down" message="refused &quot;x&quot;">line1\nline2</failure>')
    expect(xml).toContain('<system-out>status: down</system-out>')
    expect(xml.match(/<testcase /g)).toHaveLength(2)
  })
})

describe('durations and seconds', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    [' 2H ', 7_200_000],
  ])('parseDuration(%j) = %d ms', (text, ms) => {
    expect(parseDuration(text, '--window')).toBe(ms)
  })

  it.each(['', '15', 'm', '0s', '-5m', '3 fortnights', '1h abc'])('parseDuration(%j) is a UserError naming the flag', (text) => {
    expect(() => parseDuration(text, '--window')).toThrow(UserError)
    expect(() => parseDuration(text, '--window')).toThrow(/^--window must be a duration/)
  })

  it('parseSeconds takes fractions, refuses zero, negatives, words and values over the maximum', () => {
    expect(parseSeconds('2', '--timeout')).toBe(2000)
    expect(parseSeconds('0.25', '--timeout')).toBe(250)
    for (const bad of ['0', '-1', 'soon', '', '601'])
      expect(() => parseSeconds(bad, '--timeout', 600)).toThrow(/--timeout must be a number of seconds above 0 and at most 600/)
  })
})

describe('control characters in human output', () => {
  // eslint-disable-next-line no-control-regex
  const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e\u2066]/
  const hostile = 'a\nb\r\tc\u0000\u001b[2J\u007f\u009b31m\u2028\u202eexe.txt\u2066'

  it('are shown as escapes: C0, DEL, C1, line separators and bidirectional controls', () => {
    expect(escapeControl(hostile)).toBe('a\\nb\\r\\tc\\u0000\\u001b[2J\\u007f\\u009b31m\\u2028\\u202eexe.txt\\u2066')
    expect(escapeControl('plain text, ümlauts, 中文, emoji 🔑')).toBe('plain text, ümlauts, 中文, emoji 🔑')
  })

  it('are escaped in the keys of a value as well as in its strings, two keys that escape alike kept apart', () => {
    expect(escapeControlDeep({[hostile]: {'x\ny': hostile}, 'x\\ny': 1})).toEqual({
      'a\\nb\\r\\tc\\u0000\\u001b[2J\\u007f\\u009b31m\\u2028\\u202eexe.txt\\u2066': {'x\\ny': escapeControl(hostile)},
      'x\\ny': 1,
    })
    expect(JSON.stringify(escapeControlDeep({list: [{'x\ny': 1, 'x\\ny': 2}]}))).toBe('{"list":[{"x\\\\ny 2":1,"x\\\\ny":2}]}')
  })

  it('are escaped in table cells and records before the presenter formats them, kept exact in CSV', () => {
    const columns: Column<{name: string}>[] = [{header: 'name', cell: (r) => `[${r.name}]`}]
    const table = renderTable([{name: hostile}], columns)
    const record = renderRecord({name: hostile}, (r) => [['name', r.name]])
    for (const text of [table, record]) expect(text).not.toMatch(RAW_CONTROL)
    expect(table).toContain('[a\\nb\\r\\tc')
    expect(record).toBe('name: a\\nb\\r\\tc\\u0000\\u001b[2J\\u007f\\u009b31m\\u2028\\u202eexe.txt\\u2066\n')
    expect(renderCsv([{name: hostile}], [{header: 'name', cell: (r) => r.name}])).toContain(hostile)
  })

  it('cannot forge a line of the access log', () => {
    const line = accessLogLine(new Date('2026-01-02T03:04:05Z'), {
      method: 'POST',
      path: '/api/webhooks/rai/audit',
      status: 503,
      ms: 1.5,
      eventId: 'e\n2026-01-02T03:04:06.000Z 200 POST / forged',
      detail: 'failed (\u001b]0;title\u0007)',
    })
    expect(line.split('\n')).toHaveLength(1)
    expect(line).toBe(
      '2026-01-02T03:04:05.000Z 503 POST /api/webhooks/rai/audit e\\n2026-01-02T03:04:06.000Z 200 POST / forged 1.5 ms: failed (\\u001b]0;title\\u0007)',
    )
  })
})
