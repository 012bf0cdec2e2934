/**
 * Text as `--search` compares it: lower-cased, accents removed (é → e, Ø stays
 * ø lower-cased), whitespace collapsed. Stored beside the row by the code that
 * writes it, and applied to the search text, so that one portable `LIKE` finds
 * "Müller" from "muller" on every engine, with no collation in the way.
 */
export function searchKey(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim()
}

/** The search text of a row: each part's key, one per line, so that a search never matches across two fields. */
export function searchText(...parts: ReadonlyArray<string | null | undefined>): string {
  return parts
    .filter((part): part is string => typeof part === 'string' && part !== '')
    .map(searchKey)
    .join('\n')
}

/** The escape character of `likeContains`'s pattern: give it as `ESCAPE '!'` (SQLite has no default one). */
export const LIKE_ESCAPE = '!'

/** A LIKE pattern matching rows whose text contains `text` (its key), with `%`, `_` and `!` taken literally. */
export function likeContains(text: string): string {
  return `%${searchKey(text).replace(/[!%_]/g, (c) => `${LIKE_ESCAPE}${c}`)}%`
}
