import {mapJson} from '../json/walk.js'

/**
 * Characters that must never reach a terminal or a log line as they are: C0
 * controls (a newline forges a log line, ESC starts a terminal sequence), DEL,
 * C1 controls (a single-byte CSI), the line and paragraph separators, and the
 * bidirectional overrides and isolates, which reorder what is shown.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g

const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/**
 * `text` fit for a terminal or a log line: each unsafe character shown as an
 * escape (`\n`, `\u001b`, `\u202e`) instead. The one place human output and the
 * access log are made safe; JSON output is left exact.
 */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A copy of a row or record with every string and key in it escaped (see `escapeControl`), for presenters to format and colour. */
export function escapeControlDeep<T>(value: T): T {
  return mapJson(value, {string: escapeControl, key: escapeControl})
}
