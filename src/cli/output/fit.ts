/**
 * Fitting a table to the terminal: how wide text is on screen, cutting or
 * wrapping a cell to a width (its colours kept), and choosing which columns a
 * width has room for and how wide each gets.
 */

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g
const segmenter = new Intl.Segmenter()

/** Code points a terminal shows two cells wide (East Asian wide and fullwidth forms). */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x20000, 0x3fffd],
]

/** How many cells one grapheme takes on a terminal: 0, 1 or 2. */
function graphemeWidth(grapheme: string): number {
  const first = grapheme.codePointAt(0) ?? 0
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/.test(grapheme) || /^\p{M}+$/u.test(grapheme)) return 0
  if (/\p{Emoji_Presentation}|\ufe0f/u.test(grapheme)) return 2
  return WIDE.some(([from, to]) => first >= from && first <= to) ? 2 : 1
}

type Token = {sgr: string} | {text: string; width: number}

/** Text as colour sequences and graphemes, each grapheme with its width. */
function tokens(text: string): Token[] {
  const out: Token[] = []
  let last = 0
  const graphemes = (part: string) => {
    for (const {segment} of segmenter.segment(part)) out.push({text: segment, width: graphemeWidth(segment)})
  }
  for (const match of text.matchAll(SGR)) {
    graphemes(text.slice(last, match.index))
    out.push({sgr: match[0]})
    last = match.index + match[0].length
  }
  graphemes(text.slice(last))
  return out
}

/** The width of `text` on a terminal: its colour sequences take none, a wide character two cells. */
export function displayWidth(text: string): number {
  let width = 0
  for (const {segment} of segmenter.segment(text.replace(SGR, ''))) width += graphemeWidth(segment)
  return width
}

/**
 * `text` cut to `width` cells with `…` at its end (`from: 'start'`: the end kept,
 * `…` first, for a path). Text that fits is returned as it is, unless `always`
 * (the `…` added even so). Every colour sequence is kept, so what the cut text
 * opened is still closed.
 */
export function truncate(text: string, width: number, options: {from?: 'end' | 'start'; always?: boolean} = {}): string {
  if (!options.always && displayWidth(text) <= width) return text
  const budget = Math.max(0, width - 1)
  const list = options.from === 'start' ? tokens(text).reverse() : tokens(text)
  const kept: string[] = []
  let used = 0
  let full = false
  for (const token of list) {
    if ('sgr' in token) kept.push(token.sgr)
    else if (!full && used + token.width <= budget) {
      kept.push(token.text)
      used += token.width
    } else if (!full) {
      kept.push('…')
      full = true
    }
  }
  if (!full) kept.push('…')
  return (options.from === 'start' ? kept.reverse() : kept).join('')
}

/** The SGR code that ends what `code` starts (chalk closes a colour with 39, bold and dim with 22…). */
function closerOf(code: number): number | undefined {
  if (code === 1 || code === 2) return 22
  if (code >= 3 && code <= 9 && code !== 5 && code !== 6) return 20 + code
  if ((code >= 30 && code <= 38) || (code >= 90 && code <= 97)) return 39
  if ((code >= 40 && code <= 48) || (code >= 100 && code <= 107)) return 49
  return undefined
}

/** The colour sequences still open after `sgr`, given those open before it. */
function afterSgr(open: readonly string[], sgr: string): string[] {
  const params = sgr.slice(2, -1)
  if (params === '' || params === '0') return []
  const code = Number(params.split(';')[0])
  if (closerOf(code) !== undefined) return [...open, sgr]
  return open.filter((o) => closerOf(Number(o.slice(2, -1).split(';')[0])) !== code)
}

/**
 * `text` wrapped to lines of at most `width` cells, at spaces where it can and
 * inside a word longer than a line; past `maxLines` the last line ends in `…`.
 * A colour that spans lines is closed at the end of each and opened again at the
 * start of the next, so each line stands on its own in a table cell.
 */
export function wrap(text: string, width: number, maxLines = Number.POSITIVE_INFINITY): string[] {
  const w = Math.max(1, width)
  // Words as runs of tokens, split at spaces; the space before a word is dropped where the line breaks.
  const words: Token[][] = [[]]
  for (const token of tokens(text)) {
    if ('text' in token && token.text === ' ') words.push([])
    else (words.at(-1) as Token[]).push(token)
  }
  const lines: Token[][] = [[]]
  let used = 0
  const breakLine = () => {
    lines.push([])
    used = 0
  }
  words.forEach((word, i) => {
    const wordWidth = word.reduce((sum, t) => sum + ('width' in t ? t.width : 0), 0)
    if (i > 0 && used > 0) {
      // A word longer than any line (a path) starts where it is when half the line is still free, and is cut where the line ends.
      if (used + 1 + wordWidth <= w || (wordWidth > w && w - used - 1 >= w / 2)) {
        ;(lines.at(-1) as Token[]).push({text: ' ', width: 1})
        used += 1
      } else if (wordWidth > 0) breakLine()
    }
    for (const token of word) {
      if ('width' in token && used + token.width > w && used > 0) breakLine()
      ;(lines.at(-1) as Token[]).push(token)
      if ('width' in token) used += token.width
    }
  })
  let open: string[] = []
  const rendered = lines.map((tokensOfLine) => {
    const prefix = open.join('')
    let body = ''
    for (const token of tokensOfLine) {
      if ('sgr' in token) {
        open = afterSgr(open, token.sgr)
        body += token.sgr
      } else body += token.text
    }
    return `${prefix}${body}${open.length > 0 ? '\u001b[0m' : ''}`
  })
  if (rendered.length <= maxLines) return rendered
  const kept = rendered.slice(0, Math.max(1, maxLines))
  kept[kept.length - 1] = truncate(kept.at(-1) as string, w, {always: true})
  return kept
}

/** What the fitting needs to know of a column. */
export interface ColumnFit {
  /** Its width in full: its widest cell or its header. */
  natural: number
  /** The narrowest it may be made before columns drop out; `natural` for a column that never narrows. */
  min: number
  /** 1: never dropped; higher numbers drop out first (of equals, the rightmost). */
  priority: number
  /** Nothing in any row: it goes first, whatever its priority, when the table does not fit as it is. */
  empty?: boolean
}

/** A table's width for columns of these content widths: `│ a │ b │`, a space either side of each cell. */
export const tableWidth = (widths: readonly number[]): number => widths.reduce((sum, w) => sum + w + 3, 1)

/** Below this, a column that may narrow is only made narrower when the columns that never drop still do not fit. */
const LAST_RESORT_WIDTH = 4

/**
 * Which columns a table `width` cells wide keeps, and the content width of each.
 * When the table does not fit as it is, its empty columns go; then columns drop
 * out, the highest `priority` first, until the rest fit at their
 * `min`; then they narrow only as far as needed, the least important first (see
 * `narrow`).
 * When even the columns that never drop do not fit, they narrow further, to a
 * few cells each; a table that still does not fit is as narrow as it gets.
 */
export function fitColumns(columns: readonly ColumnFit[], width: number): {keep: number[]; widths: number[]} {
  let keep = columns.map((_, i) => i)
  if (tableWidth(columns.map((c) => c.natural)) > width && columns.some((c) => !c.empty)) keep = keep.filter((i) => !columns[i].empty)
  while (tableWidth(keep.map((i) => columns[i].min)) > width) {
    const droppable = keep.filter((i) => columns[i].priority > 1)
    if (droppable.length === 0 || keep.length === 1) break
    const drop = droppable.reduce((a, b) => (columns[b].priority >= columns[a].priority ? b : a))
    keep = keep.filter((i) => i !== drop)
  }
  const kept = keep.map((i) => columns[i])
  const budget = width - tableWidth(kept.map(() => 0))
  const widths =
    narrow(kept, budget, (c) => c.min) ??
    narrow(kept, budget, (c) => Math.min(c.natural, LAST_RESORT_WIDTH)) ??
    kept.map((c) => Math.min(c.natural, LAST_RESORT_WIDTH))
  return {keep, widths}
}

/**
 * Widths within `budget` (their sum), none below its `floor`: the least important
 * columns narrow first, and of equally important ones the widest, evenly.
 * Undefined when the floors do not fit.
 */
function narrow(columns: readonly ColumnFit[], budget: number, floor: (c: ColumnFit) => number): number[] | undefined {
  const sum = (ws: readonly number[]) => ws.reduce((a, b) => a + b, 0)
  const widths = columns.map((c) => c.natural)
  const floors = columns.map((c) => Math.min(floor(c), c.natural))
  if (sum(floors) > budget) return undefined
  for (const priority of [...new Set(columns.map((c) => c.priority))].sort((a, b) => b - a)) {
    if (sum(widths) <= budget) break
    const group = columns.flatMap((c, i) => (c.priority === priority ? [i] : []))
    const others = sum(widths) - sum(group.map((i) => widths[i]))
    const at = (cap: number) => group.map((i) => Math.max(floors[i], Math.min(columns[i].natural, cap)))
    let cap = Math.max(...group.map((i) => widths[i]))
    while (cap > 0 && others + sum(at(cap)) > budget) cap--
    const capped = at(cap)
    // Whole cells: what the cap left over goes to the capped columns, left to right.
    let spare = budget - others - sum(capped)
    group.forEach((i, k) => {
      widths[i] = capped[k]
      if (spare > 0 && widths[i] === cap && widths[i] < columns[i].natural) {
        widths[i]++
        spare--
      }
    })
  }
  return widths
}

/**
 * How wide the terminal is: COLUMNS when set to a number, else the width of
 * stdout when it is a terminal; undefined (no limit) when neither says.
 */
export function terminalWidth(env: Record<string, string | undefined>, stdout: {isTTY?: boolean; columns?: number}): number | undefined {
  const columns = Number(env.COLUMNS)
  if (env.COLUMNS !== undefined && /^\d+$/.test(env.COLUMNS.trim()) && columns > 0) return columns
  return stdout.isTTY && stdout.columns && stdout.columns > 0 ? stdout.columns : undefined
}
