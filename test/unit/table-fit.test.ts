import {Chalk} from 'chalk'
import {describe, expect, it} from 'vitest'

import {displayWidth, fitColumns, tableWidth, terminalWidth, truncate, wrap, type ColumnFit} from '../../src/cli/output/fit.js'
import {renderCsv, renderList, renderTable, selectColumns, type Column} from '../../src/cli/output/render.js'
import {tableTime} from '../../src/cli/output/time.js'

const c = new Chalk({level: 1})
// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '')
const widest = (text: string) => Math.max(...text.split('\n').map(displayWidth))

describe('the width of text on a terminal', () => {
  it('counts no colour sequence, two cells for a wide character or an emoji, none for a combining mark', () => {
    expect(displayWidth('abc')).toBe(3)
    expect(displayWidth(c.red('abc'))).toBe(3)
    expect(displayWidth('中文')).toBe(4)
    expect(displayWidth('Café ☕ 🚀')).toBe(10)
    expect(displayWidth('e\u0301')).toBe(1)
  })
})

describe('cutting a cell', () => {
  it('leaves text that fits as it is', () => {
    expect(truncate('eu-west-1', 9)).toBe('eu-west-1')
  })

  it('cuts at the end with …, or at the start for a path, to exactly the width', () => {
    expect(truncate('operator:admin@example.com', 12)).toBe('operator:ad…')
    expect(truncate('/var/lib/raiops/eu-central-1.sqlite', 20)).toBe('/var/lib/raiops/eu-…')
    expect(truncate('/var/lib/raiops/eu-central-1.sqlite', 20, {from: 'start'})).toBe('…eu-central-1.sqlite')
  })

  it('never splits a wide character: the cut is a cell short rather than over', () => {
    expect(truncate('中文中文', 4)).toBe('中…')
    expect(displayWidth(truncate('中文中文', 4))).toBeLessThanOrEqual(4)
  })

  it('keeps the colour sequences, so what the cut text opened is still closed', () => {
    const cut = truncate(c.red('connection refused by the server'), 10)
    expect(plain(cut)).toBe('connectio…')
    expect(cut.startsWith('\u001b[31m')).toBe(true)
    expect(cut.endsWith('\u001b[39m')).toBe(true)
  })
})

describe('wrapping a cell', () => {
  it('breaks at spaces, each line within the width', () => {
    expect(wrap('cannot open the SQLite file: no such file', 16)).toEqual(['cannot open the', 'SQLite file: no', 'such file'])
  })

  it('cuts a word longer than a line, and ends the last line allowed in …', () => {
    // A word longer than a line starts on the line it is on when half of it is free.
    expect(wrap('no such file: /tmp/fleet/us-west-2.sqlite', 12)).toEqual(['no such', 'file: /tmp/f', 'leet/us-west', '-2.sqlite'])
    expect(wrap('no such file: /tmp/fleet/us-west-2.sqlite', 20)).toEqual(['no such file:', '/tmp/fleet/us-west-2', '.sqlite'])
    const lines = wrap('one two three four five six seven eight nine ten', 10, 2)
    expect(lines).toEqual(['one two', 'three fou…'])
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(10)
  })

  it('closes a colour at the end of each line and opens it again on the next', () => {
    const lines = wrap(c.red('connection refused by the server'), 12)
    expect(lines.map(plain)).toEqual(['connection', 'refused by', 'the server'])
    for (const line of lines) {
      expect(line.startsWith('\u001b[31m')).toBe(true)
      expect(line.endsWith('\u001b[0m') || line.endsWith('\u001b[39m')).toBe(true)
    }
  })
})

describe('fitting columns to a width', () => {
  const col = (natural: number, options: Partial<ColumnFit> = {}): ColumnFit => ({natural, min: natural, priority: 1, ...options})

  it('keeps every column at its natural width when the table fits (or has no limit)', () => {
    const columns = [col(2), col(12), col(8)]
    expect(fitColumns(columns, 80)).toEqual({keep: [0, 1, 2], widths: [2, 12, 8]})
    expect(fitColumns([col(2), col(300)], Number.POSITIVE_INFINITY)).toEqual({keep: [0, 1], widths: [2, 300]})
  })

  it('drops the least important column first, the rightmost of equals, never one of priority 1', () => {
    const columns = [col(2), col(20), col(10, {priority: 2}), col(10, {priority: 3}), col(10, {priority: 2})]
    // 2+20+10+10+10 = 52, + 16 for borders: 68.
    expect(fitColumns(columns, 68).keep).toEqual([0, 1, 2, 3, 4])
    expect(fitColumns(columns, 67).keep).toEqual([0, 1, 2, 4])
    expect(fitColumns(columns, 54).keep).toEqual([0, 1, 2])
    expect(fitColumns(columns, 41).keep).toEqual([0, 1])
    expect(fitColumns(columns, 10).keep).toEqual([0, 1])
  })

  it('drops a column empty in every row first when the table does not fit as it is, even one of priority 1', () => {
    const columns = [col(2), col(5, {empty: true}), col(30, {min: 10}), col(8, {priority: 2})]
    expect(fitColumns(columns, 58).keep).toEqual([0, 1, 2, 3])
    expect(fitColumns(columns, 57)).toEqual({keep: [0, 2, 3], widths: [2, 30, 8]})
  })

  it('narrows a column that may narrow down to its min before dropping another', () => {
    const columns = [col(2), col(40, {min: 20}), col(10, {priority: 2})]
    // Natural: 2+40+10 + 10 = 62; at 50 the long column gives up 12 cells.
    expect(fitColumns(columns, 50)).toEqual({keep: [0, 1, 2], widths: [2, 28, 10]})
    // At its min the table is 42 wide: below that, the priority-2 column goes.
    expect(fitColumns(columns, 42)).toEqual({keep: [0, 1, 2], widths: [2, 20, 10]})
    expect(fitColumns(columns, 41)).toEqual({keep: [0, 1], widths: [2, 32]})
  })

  it('narrows the least important columns first, then of equals the widest, evenly', () => {
    const columns = [col(30, {min: 10}), col(30, {min: 10, priority: 2}), col(20, {min: 10})]
    // 80 + 10 of borders = 90: 10 cells to find, all from the priority-2 column.
    expect(fitColumns(columns, 80).widths).toEqual([30, 20, 20])
    // 30 to find: the priority-2 column down to 10, then the widest of the others.
    expect(fitColumns(columns, 60).widths).toEqual([20, 10, 20])
    expect(fitColumns(columns, 50).widths).toEqual([15, 10, 15])
  })

  it('narrows even the columns that keep their width when the ones that never drop cannot fit, as far as a few cells', () => {
    const {keep, widths} = fitColumns([col(20), col(20), col(20)], 40)
    expect(keep).toEqual([0, 1, 2])
    expect(tableWidth(widths)).toBeLessThanOrEqual(40)
    expect(fitColumns([col(20), col(20), col(20)], 5).widths).toEqual([4, 4, 4])
  })

  it('never makes a table wider than the width when its columns that never drop fit at their min', () => {
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    for (let run = 0; run < 500; run++) {
      const columns = Array.from({length: 1 + random(9)}, (_, i) => {
        const natural = 1 + random(60)
        return col(natural, {min: random(2) === 0 ? natural : Math.min(natural, 1 + random(12)), priority: i === 0 ? 1 : 1 + random(4)})
      })
      const width = 20 + random(140)
      const essential = columns.filter((x) => x.priority === 1).map((x) => x.min)
      const {keep, widths} = fitColumns(columns, width)
      if (tableWidth(essential) <= width) expect(tableWidth(widths)).toBeLessThanOrEqual(width)
      keep.forEach((i, k) => expect(widths[k]).toBeLessThanOrEqual(columns[i].natural))
      for (const i of columns.keys()) if (columns[i].priority === 1) expect(keep).toContain(i)
    }
  })
})

describe('the terminal width', () => {
  it('is COLUMNS when it is a number, else the width of stdout when it is a terminal, else no limit', () => {
    expect(terminalWidth({COLUMNS: '80'}, {isTTY: true, columns: 200})).toBe(80)
    expect(terminalWidth({COLUMNS: '80'}, {isTTY: false})).toBe(80)
    expect(terminalWidth({}, {isTTY: true, columns: 120})).toBe(120)
    expect(terminalWidth({COLUMNS: 'wide'}, {isTTY: true, columns: 100})).toBe(100)
    expect(terminalWidth({COLUMNS: '0'}, {isTTY: false})).toBeUndefined()
    expect(terminalWidth({}, {isTTY: false, columns: 120})).toBeUndefined()
  })
})

describe('times in tables', () => {
  const now = new Date('2026-03-01T12:00:00.000Z')

  it('are relative, in the past or the future', () => {
    expect(tableTime('2026-03-01T11:55:00.000Z', {now})).toBe('5 min ago')
    expect(tableTime('2026-03-01T11:59:58.000Z', {now})).toBe('just now')
    expect(tableTime('2026-03-01T12:00:02.000Z', {now})).toBe('just now')
    expect(tableTime('2026-03-01T15:00:00.000Z', {now})).toBe('in 3 h')
    expect(tableTime('2026-02-20T12:00:00.000Z', {now})).toBe('9 d ago')
  })

  it('are UTC ISO 8601 to the second with --utc; what is not a time is shown as it is', () => {
    expect(tableTime('2026-03-01T11:55:00.123Z', {now, utc: true})).toBe('2026-03-01T11:55:00Z')
    expect(tableTime('2026-03-01 11:55:00+01:00', {now, utc: true})).toBe('2026-03-01T10:55:00Z')
    expect(tableTime('not a time', {now})).toBe('not a time')
  })
})

describe('a table fitted to a width', () => {
  interface Row {
    id: number
    name: string
    state: string
    at: string
    error: string
    note: string
  }
  const columns: Column<Row>[] = [
    {header: 'id', cell: (r) => String(r.id)},
    {header: 'name', cell: (r) => r.name, overflow: 'truncate', minWidth: 12},
    {header: 'state', cell: (r) => c.green(r.state)},
    {header: 'checked', cell: (r, f) => f.time(r.at), plain: (r) => r.at, priority: 2},
    {header: 'note', cell: (r) => r.note, priority: 3},
    {header: 'error', cell: (r) => c.red(r.error), plain: (r) => r.error, overflow: 'wrap', minWidth: 16},
  ]
  const rows: Row[] = [
    {id: 1, name: 'eu-central-1 (master)', state: 'online', at: '2026-03-01T11:00:00.000Z', error: '', note: ''},
    {id: 2, name: 'us-west-2', state: 'down', at: '2026-03-01T11:58:00.000Z', error: 'connect ECONNREFUSED 10.0.0.7:3306 after 3 attempts', note: ''},
  ]
  const now = new Date('2026-03-01T12:00:00.000Z')

  it('has a rule under its header, and with no limit shows every column in full', () => {
    const lines = renderTable(rows, columns, {now}).split('\n')
    expect(plain(lines[1])).toMatch(/^│ id │ name +│ state +│ checked +│ note │ error +│$/)
    expect(lines[2]).toMatch(/^├─+┼/)
    expect(lines[2]).toMatch(/┤$/)
    expect(displayWidth(lines[2])).toBe(displayWidth(lines[0]))
    expect(plain(lines.join('\n'))).toContain('connect ECONNREFUSED 10.0.0.7:3306 after 3 attempts')
    expect(plain(lines.join('\n'))).toContain('eu-central-1 (master)')
  })

  it('at a width: no line is wider, an empty column goes first, then the least important; long cells are cut or wrapped', () => {
    for (const width of [80, 60, 50]) {
      const text = renderTable(rows, columns, {width, now})
      expect(widest(text), `${width}\n${text}`).toBeLessThanOrEqual(width)
      expect(plain(text)).not.toContain('note')
      for (const header of ['id', 'name', 'state', 'error']) expect(plain(text)).toContain(header)
    }
    const at50 = plain(renderTable(rows, columns, {width: 50, now}))
    expect(at50).not.toContain('checked')
    expect(at50).toContain('ECONNREFUSED')
    expect(at50).toMatch(/│ 2 {2}│ us-west-2 +│ down +│ connect +│\n│ +│ +│ +│ ECONNREFUSED/)
  })

  it('shows times relative to now, or in UTC with utc; CSV keeps the exact time', () => {
    expect(plain(renderTable(rows, columns, {now}))).toContain('60 min ago')
    expect(plain(renderTable(rows, columns, {now, utc: true}))).toContain('2026-03-01T11:00:00Z')
    expect(renderCsv(rows, columns)).toContain('2026-03-01T11:00:00.000Z')
    const timeOnly: Column<Row>[] = [{header: 'checked', cell: (r, f) => f.time(r.at)}]
    expect(renderCsv(rows, timeOnly).split('\n')[1]).toBe('2026-03-01T11:00:00.000Z')
  })
})

describe('choosing the columns (--columns)', () => {
  type R = {id: number; name: string; health: string}
  const columns: Column<R>[] = [
    {header: 'id', cell: (r) => String(r.id)},
    {header: 'name', cell: (r) => r.name, overflow: 'truncate'},
    {header: 'state', cell: () => 'online'},
    {header: 'health', cell: (r) => r.health, priority: 3},
  ]
  const rows: R[] = [{id: 1, name: 'eu-central-1-with-a-long-name', health: 'ok'}]

  it('keeps exactly the named columns, any case, in the order given; every column without names', () => {
    expect(selectColumns(columns, ['Health', 'ID']).map((c) => c.header)).toEqual(['health', 'id'])
    expect(selectColumns(columns, undefined)).toBe(columns)
  })

  it('refuses a name no column has, listing the valid ones (exit 2)', () => {
    expect(() => selectColumns(columns, ['id', 'colour'])).toThrow('unknown column "colour"; the columns are id, name, state, health')
    expect(() => selectColumns(columns, ['colour'])).toThrow(expect.objectContaining({exitCode: 2}))
  })

  it('a table shows only those columns, still fitted to the width; CSV has only them too', () => {
    const table = renderList(rows, columns, 'table', {columns: ['name', 'health'], width: 24})
    expect(widest(table)).toBeLessThanOrEqual(24)
    expect(table.split('\n')[1]).toMatch(/^│ name +│ health │$/)
    expect(table).toMatch(/│ eu-central[^ ]*… │ ok +│/)
    expect(renderList(rows, columns, 'csv', {columns: ['health', 'id']})).toBe('health,id\nok,1\n')
  })
})
