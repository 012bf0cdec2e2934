import {UserError} from '../../errors/index.js'

/** Where a notification goes: an email address, or a URL the webhook is posted to. */
export const CHANNELS = ['email', 'webhook'] as const
export type Channel = (typeof CHANNELS)[number]

/** An address as operators type them: one @, no spaces or angle brackets, a dotted domain. */
const EMAIL = /^[^\s@<>"(),;:]+@[^\s@<>"(),;:]+\.[^\s@<>"(),;:]+$/

/**
 * A webhook URL with what may be a credential hidden: its user and password
 * (`https://***@host/`) and its query (`?***`), where hooks often carry a
 * token. The host, port and path stay, so an operator can tell targets apart.
 */
export function maskUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Not a URL (a row written by hand): keep the scheme and host-like start, nothing after a credential could be.
    return text.replace(/^(\w+:\/\/)[^/@\s]*@/, '$1***@').replace(/[?#].*$/, '?***')
  }
  const userinfo = url.username !== '' || url.password !== '' ? '***@' : ''
  const query = url.search !== '' ? '?***' : ''
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}`
}

/** A target as it may be shown: an email as it is, a URL masked. */
export function displayTarget(channel: Channel, target: string): string {
  return channel === 'webhook' ? maskUrl(target) : target
}

/** A webhook target: an absolute http(s) URL with a host, at most 1024 characters (the column). UserError otherwise, the URL masked in it. */
export function checkWebhookUrl(text: string, what = '--target'): string {
  const value = text.trim()
  let url: URL | null = null
  try {
    url = new URL(value)
  } catch {
    url = null
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new UserError(`${what} must be an http:// or https:// URL for a webhook, not "${maskUrl(value)}"`, {
      hint: 'give the URL the receiver listens on, as https://hooks.example.com/raiops',
    })
  }
  if (value.length > 1024) throw new UserError(`${what} must be at most 1024 characters`)
  return value
}

/** An email target. UserError otherwise. */
export function checkEmail(text: string, what = '--target'): string {
  const value = text.trim()
  if (!EMAIL.test(value) || value.length > 320) {
    throw new UserError(`${what} must be an email address for the email channel, not "${value.slice(0, 80)}"`, {hint: 'as oncall@example.com'})
  }
  return value
}
