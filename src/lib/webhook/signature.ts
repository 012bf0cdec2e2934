import {createHmac, timingSafeEqual} from 'node:crypto'

export const SIGNATURE_HEADER = 'x-raiops-signature'

export type SignatureCheck = {ok: true} | {ok: false; reason: string}

/** The header value for a body signed now with `secret`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signBody(secret: string, body: string | Buffer, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`
}

/**
 * Checks `t=…,v1=…[,v1=…]` against the raw body: the timestamp within
 * `toleranceS` of now (either way), and any v1 matching the HMAC of any secret
 * (several secrets: rotation without downtime; several v1: a sender mid-rotation),
 * compared in constant time. Malformed headers are refused, never thrown on.
 */
export function checkSignature(
  header: string | undefined,
  body: Buffer,
  secrets: readonly string[],
  toleranceS: number,
  nowS = Math.floor(Date.now() / 1000),
): SignatureCheck {
  if (!header) return {ok: false, reason: 'missing X-Raiops-Signature header'}
  let t: number | undefined
  const signatures: Buffer[] = []
  for (const part of header.split(',')) {
    const at = part.indexOf('=')
    if (at < 1) continue
    const key = part.slice(0, at).trim()
    const value = part.slice(at + 1).trim()
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value)
    // A v1 is 64 hex digits; any other length is ignored (and cannot match).
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, 'hex'))
  }
  if (t === undefined) return {ok: false, reason: 'the signature header has no timestamp (t=)'}
  if (signatures.length === 0) return {ok: false, reason: 'the signature header has no v1 signature of 64 hex digits'}
  if (Math.abs(nowS - t) > toleranceS) return {ok: false, reason: `the signature timestamp is more than ${toleranceS} s from now`}
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest()
    for (const signature of signatures) if (timingSafeEqual(expected, signature)) return {ok: true}
  }
  return {ok: false, reason: 'no signature matches'}
}
