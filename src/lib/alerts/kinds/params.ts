import {z} from 'zod'

import {maskEmail} from '../../auth/pii.js'
import {parseDuration} from '../../time/duration.js'

/**
 * A duration parameter, written as a duration string (`30m`, `2h`, `7d`) and
 * stored as written, so that `alerts:rules:show` gives back what was typed;
 * `durationMs` turns it into milliseconds when a rule is evaluated.
 */
export function durationParam(name: string, defaultValue: string, description: string) {
  return z
    .string({invalid_type_error: `${name} must be a duration such as 30m, 2h or 7d`})
    .superRefine((text, issue) => {
      try {
        parseDuration(text, name)
      } catch (error) {
        issue.addIssue({code: z.ZodIssueCode.custom, message: (error as Error).message})
      }
    })
    .default(defaultValue)
    .describe(description)
}

/** A duration parameter already checked by `durationParam`, in milliseconds. */
export function durationMs(text: string, name: string): number {
  return parseDuration(text, name)
}

/** A whole number from `min` to `max`, given as a number or as the text of one (`--param graceDays=3`). */
export function wholeParam(name: string, min: number, max: number, description: string) {
  return z.coerce
    .number({invalid_type_error: `${name} must be a whole number`})
    .int({message: `${name} must be a whole number from ${min} to ${max}`})
    .min(min, {message: `${name} must be a whole number from ${min} to ${max}`})
    .max(max, {message: `${name} must be a whole number from ${min} to ${max}`})
    .optional()
    .describe(description)
}

/**
 * One line, at most `max` characters: what a summary quotes of an error or a
 * detail stored elsewhere. Emails in it are masked (`j***@example.com`): a
 * summary is sent to whoever subscribes, who may not hold pii.view.
 */
export function oneLine(text: string | null | undefined, max = 200): string {
  const line = maskEmail(text ?? '')
    .replace(/\s+/g, ' ')
    .trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** `47 min`, `3 h 5 min`, `2 d 4 h`: an age for a summary. */
export function describeAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000)
  if (minutes < 1) return `${Math.max(0, Math.round(ms / 1000))} s`
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`
  const days = Math.floor(hours / 24)
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`
}
