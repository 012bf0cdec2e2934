/**
 * Walks over JSON-like values (plain objects, arrays, scalars) with an explicit
 * stack instead of recursion: values come from webhook bodies and stored audit
 * entries, which can be nested far deeper than the call stack allows.
 */

export interface JsonMapper {
  /** The replacement of a string, wherever it is. */
  string?(text: string): unknown
  /**
   * The replacement of a property's key, wherever it is. A key turned into one
   * the object already holds gets a number (`[redacted]`, `[redacted] 2`), so no
   * value is lost; keys left as they are keep their names.
   */
  key?(key: string): string
  /** A property's replacement, or undefined to keep walking into its value. */
  property?(key: string, value: unknown): {value: unknown} | undefined
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)

/**
 * The keys of one object as the mapper renames them, each unique: a renamed key
 * that meets a name already taken gets the first free number after it.
 */
function mapKeys(keys: readonly string[], map: (key: string) => string): string[] {
  const mapped = keys.map((key) => map(key))
  if (mapped.every((name, i) => name === keys[i])) return mapped
  const taken = new Set(keys.filter((key, i) => mapped[i] === key))
  return mapped.map((name, i) => {
    if (name === keys[i]) return name
    let unique = name
    for (let n = 2; taken.has(unique); n++) unique = `${name} ${n}`
    taken.add(unique)
    return unique
  })
}

/** A copy of `root` with the mapper applied to every string, key and property; order and other values kept. */
export function mapJson<T>(root: T, mapper: JsonMapper): T {
  const pending: Array<{source: unknown[] | Record<string, unknown>; target: unknown[] | Record<string, unknown>}> = []
  const copy = (value: unknown): unknown => {
    if (typeof value === 'string') return mapper.string ? mapper.string(value) : value
    if (Array.isArray(value)) {
      const target: unknown[] = []
      pending.push({source: value, target})
      return target
    }
    if (isRecord(value)) {
      const target: Record<string, unknown> = {}
      pending.push({source: value, target})
      return target
    }
    return value
  }
  const result = copy(root)
  for (let next = pending.pop(); next; next = pending.pop()) {
    const {source, target} = next
    if (Array.isArray(source)) {
      for (const item of source) (target as unknown[]).push(copy(item))
      continue
    }
    const entries = Object.entries(source)
    const keys = mapper.key
      ? mapKeys(
          entries.map(([key]) => key),
          mapper.key,
        )
      : null
    for (const [i, [key, value]] of entries.entries()) {
      // The property hook judges the key as it was sent (`password`), not as it is shown.
      const replaced = mapper.property?.(key, value)
      // Defined, not assigned: a `__proto__` key (JSON.parse makes it an own property) stays a property of the copy.
      Object.defineProperty(target, keys ? keys[i] : key, {
        value: replaced ? replaced.value : copy(value),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
  }
  return result as T
}

/** How deeply objects and arrays nest in a value (0 for a scalar, 1 for `{}` or `[1]`), and whether it holds a number that is not finite. */
export function inspectJson(value: unknown): {depth: number; nonFinite: boolean} {
  let depth = 0
  let nonFinite = false
  const pending: Array<{value: unknown; depth: number}> = [{value, depth: 0}]
  for (let next = pending.pop(); next; next = pending.pop()) {
    // JSON reads `1e999` as Infinity, and would write it back as null.
    if (typeof next.value === 'number' && !Number.isFinite(next.value)) nonFinite = true
    const inner = Array.isArray(next.value) ? next.value : isRecord(next.value) ? Object.values(next.value) : null
    if (inner === null) continue
    const level = next.depth + 1
    if (level > depth) depth = level
    for (const item of inner) if ((item !== null && typeof item === 'object') || typeof item === 'number') pending.push({value: item, depth: level})
  }
  return {depth, nonFinite}
}

/** Whether two JSON-like values are equal (same keys in any order, same items in the same order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  const pending: Array<[unknown, unknown]> = [[a, b]]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [x, y] = next
    if (Object.is(x, y)) continue
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) return false
      for (let i = 0; i < x.length; i++) pending.push([x[i], y[i]])
    } else if (isRecord(x) && isRecord(y)) {
      const keys = Object.keys(x)
      if (keys.length !== Object.keys(y).length) return false
      for (const key of keys) {
        if (!Object.hasOwn(y, key)) return false
        pending.push([x[key], y[key]])
      }
    } else if (x instanceof Date && y instanceof Date) {
      if (x.getTime() !== y.getTime()) return false
    } else {
      return false
    }
  }
  return true
}
