import {createHash} from 'node:crypto'

import {UserError} from '../errors/index.js'
import type {Labels} from './types.js'

/** A label name: what Prometheus allows. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
export const MAX_LABEL_VALUE = 255

/** The labels in one canonical text: names sorted, JSON-encoded (so no value can forge a separator). */
export function canonicalLabels(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  )
}

/** An instance's identity within its rule: sha256 of its canonical labels, hex. */
export function fingerprint(labels: Labels): string {
  return createHash('sha256').update(canonicalLabels(labels)).digest('hex')
}

/** A stored label set (JSON text); anything but an object of strings reads as no labels, or without its non-string values. */
export function parseLabels(text: string | null): Labels {
  if (text === null) return {}
  try {
    const value: unknown = JSON.parse(text)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return {}
    return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string')) as Labels
  } catch {
    return {}
  }
}

/** `rds=eu-2,tenant=Acme` for a line of text. */
export function formatLabels(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name]}`)
    .join(',')
}

export type MatchOp = '=' | '!=' | '=~' | '!~'

export interface Matcher {
  name: string
  op: MatchOp
  value: string
  /** The text it was parsed from: `rds=eu-2`. */
  text: string
}

/**
 * Parses a label matcher as Alertmanager writes them: `name=value`,
 * `name!=value`, `name=~regex`, `name!~regex` (the regex anchored, as
 * Alertmanager anchors it). A missing label matches as the empty string.
 * `what` names the input in the error (exit 2).
 */
export function parseMatcher(text: string, what = 'a matcher'): Matcher {
  const match = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(text)
  if (!match) throw new UserError(`${what} must be name=value, name!=value, name=~regex or name!~regex, not "${text}"`)
  const [, name, op, raw] = match
  const value = /^".*"$/.test(raw) ? raw.slice(1, -1) : raw
  if (op === '=~' || op === '!~') {
    try {
      new RegExp(`^(?:${value})$`)
    } catch {
      throw new UserError(`${what} "${text}" has an invalid regular expression`)
    }
  }
  if (value.length > MAX_LABEL_VALUE) throw new UserError(`${what} "${text.slice(0, 40)}…" has a value longer than ${MAX_LABEL_VALUE} characters`)
  return {name, op: op as MatchOp, value, text: `${name}${op}${value}`}
}

export function parseMatchers(texts: readonly string[], what = 'a matcher'): Matcher[] {
  return texts.map((text) => parseMatcher(text, what))
}

const compiled = new Map<string, RegExp>()
function regexOf(value: string): RegExp {
  let re = compiled.get(value)
  if (re === undefined) {
    re = new RegExp(`^(?:${value})$`)
    compiled.set(value, re)
  }
  return re
}

export function matches(matcher: Matcher, labels: Labels): boolean {
  const actual = labels[matcher.name] ?? ''
  switch (matcher.op) {
    case '=':
      return actual === matcher.value
    case '!=':
      return actual !== matcher.value
    case '=~':
      return regexOf(matcher.value).test(actual)
    case '!~':
      return !regexOf(matcher.value).test(actual)
  }
}

/** Whether every matcher matches (an empty list matches everything). */
export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  return matchers.every((m) => matches(m, labels))
}

/** Checks label names and values given by an operator (a rule's labels); UserError on the first bad one. */
export function checkLabels(labels: Record<string, unknown>, what = 'a label'): Labels {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name)) throw new UserError(`${what} name "${name}" must start with a letter or _ and hold only letters, digits and _`)
    if (typeof value !== 'string') throw new UserError(`${what} ${name} must be a string`)
    if (value.length > MAX_LABEL_VALUE) throw new UserError(`${what} ${name} is longer than ${MAX_LABEL_VALUE} characters`)
    out[name] = value
  }
  return out
}
