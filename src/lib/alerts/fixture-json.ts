/**
 * JSON with positions: where each value (and each object key) of a document
 * starts, so a fixture's mistakes are named by line and column — a syntax
 * error where the text goes wrong, a bad field where its value is.
 */

export interface TextPosition {
  line: number
  column: number
}

export type JsonPath = ReadonlyArray<string | number>

/** The positions of a parsed document's values (by path) and keys (by path + key). */
export interface JsonLocations {
  value(path: JsonPath): TextPosition | null
  key(path: JsonPath): TextPosition | null
}

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: TextPosition,
  ) {
    super(message)
  }
}

const pathKey = (path: JsonPath): string => JSON.stringify(path)

/** The 1-based line and column of a character offset. */
export function positionAt(text: string, offset: number): TextPosition {
  let line = 1
  let lineStart = 0
  const end = Math.min(offset, text.length)
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return {line, column: end - lineStart + 1}
}

function describeChar(text: string, i: number): string {
  return i >= text.length ? 'the end of the file' : `${JSON.stringify(text[i])}`
}

/**
 * Finds where each value of `text` starts, and the first syntax error (as
 * JSON.parse would refuse it: the scanner follows RFC 8259's grammar).
 */
function scan(text: string): {values: Map<string, number>; keys: Map<string, number>; error: {offset: number; message: string} | null} {
  const values = new Map<string, number>()
  const keys = new Map<string, number>()
  let i = 0
  class Stop extends Error {
    constructor(
      readonly offset: number,
      message: string,
    ) {
      super(message)
    }
  }
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++
  }
  const fail = (expected: string): never => {
    throw new Stop(i, `expected ${expected}, found ${describeChar(text, i)}`)
  }
  const string = (): string => {
    const start = i
    i++ // the opening quote
    while (i < text.length && text[i] !== '"') {
      const code = text.charCodeAt(i)
      if (code < 0x20) throw new Stop(i, 'a control character (a line break?) inside a string: strings end on the line they start')
      if (text[i] === '\\') {
        const next = text[i + 1]
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, 'a \\u escape needs four hex digits')
          i += 6
          continue
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) throw new Stop(i, `an invalid escape \\${next ?? ''} inside a string`)
        i += 2
        continue
      }
      i++
    }
    if (i >= text.length) throw new Stop(start, 'a string that is never closed')
    i++
    return JSON.parse(text.slice(start, i)) as string
  }
  const value = (path: Array<string | number>): void => {
    ws()
    values.set(pathKey(path), i)
    const ch = text[i]
    if (ch === '{') {
      i++
      ws()
      if (text[i] === '}') {
        i++
        return
      }
      for (;;) {
        ws()
        if (text[i] !== '"') fail(text[i] === '}' ? 'another member after the comma (a trailing comma is not JSON)' : 'a member name in double quotes')
        const keyAt = i
        const name = string()
        keys.set(pathKey([...path, name]), keyAt)
        ws()
        if (text[i] !== ':') fail(`":" after "${name}"`)
        i++
        value([...path, name])
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') {
          i++
          return
        }
        fail('"," or "}" after a member')
      }
    }
    if (ch === '[') {
      i++
      ws()
      if (text[i] === ']') {
        i++
        return
      }
      for (let index = 0; ; index++) {
        ws()
        if (text[i] === ']') fail('another element after the comma (a trailing comma is not JSON)')
        value([...path, index])
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') {
          i++
          return
        }
        fail('"," or "]" after an element')
      }
    }
    if (ch === '"') {
      string()
      return
    }
    const literal = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
    literal.lastIndex = i
    const match = literal.exec(text)
    if (match === null) fail('a value (an object, array, string, number, true, false or null)')
    i = literal.lastIndex
  }
  try {
    value([])
    ws()
    if (i < text.length) fail('the end of the file after the document')
    return {values, keys, error: null}
  } catch (error) {
    if (error instanceof Stop) return {values, keys, error: {offset: error.offset, message: error.message}}
    throw error
  }
}

/** Where JSON.parse says it stopped, when its message says (`at position 42`, `(line 3 column 5)`). */
function parsePosition(text: string, message: string): TextPosition | null {
  const lineColumn = /line (\d+) column (\d+)/.exec(message)
  if (lineColumn) return {line: Number(lineColumn[1]), column: Number(lineColumn[2])}
  const position = /at position (\d+)/.exec(message)
  if (position) return positionAt(text, Number(position[1]))
  if (/end of (JSON )?input/i.test(message)) return positionAt(text, text.length)
  return null
}

/**
 * Parses a JSON document with its locations, or throws a JsonSyntaxError
 * naming the line and column where it goes wrong.
 */
export function parseJsonWithLocations(text: string): {value: unknown; locations: JsonLocations} {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    const scanned = scan(text)
    if (scanned.error) throw new JsonSyntaxError(scanned.error.message, positionAt(text, scanned.error.offset))
    const message = (error as Error).message.split('\n')[0]
    throw new JsonSyntaxError(message, parsePosition(text, message) ?? {line: 1, column: 1})
  }
  const scanned = scan(text)
  const at = (offsets: Map<string, number>, path: JsonPath) => {
    const offset = offsets.get(pathKey(path))
    return offset === undefined ? null : positionAt(text, offset)
  }
  return {value, locations: {value: (path) => at(scanned.values, path), key: (path) => at(scanned.keys, path)}}
}

/** `steps[2].expect.alerts[0].state`: a path as a reader of the file names it. */
export function formatPath(path: JsonPath): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`
  return out === '' ? '(the document)' : out
}
