import {z} from 'zod'

/** A reason given for a change (`--reason`): one line of 10 to 500 characters, trimmed. */
export const MIN_REASON_LENGTH = 10
export const MAX_REASON_LENGTH = 500

const oneLine = (text: string) => !/\p{Cc}/u.test(text)

/**
 * The schema of a `--reason`: `purpose` completes "--reason must say …" when it
 * is blank (as "why you open the tenant").
 */
export function reasonSchema(purpose: string) {
  return z
    .string()
    .trim()
    .min(1, {message: `--reason must say ${purpose}`})
    .min(MIN_REASON_LENGTH, {message: `--reason is too short: say why in at least ${MIN_REASON_LENGTH} characters`})
    .max(MAX_REASON_LENGTH, {message: `--reason is too long: at most ${MAX_REASON_LENGTH} characters`})
    .refine(oneLine, {message: '--reason must be one line of text'})
}
