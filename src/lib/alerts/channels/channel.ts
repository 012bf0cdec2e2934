import type {AlertSettings} from '../../config/index.js'
import type {NotificationPayload} from '../types.js'

/** One outbox row as a channel sends it. */
export interface OutgoingMessage {
  /** The idempotency key: the receiver drops a message whose key it has seen. */
  key: string
  /** An email address or a webhook URL (which may hold a credential: never shown whole). */
  target: string
  payload: NotificationPayload
}

export interface SendOptions {
  settings: Pick<AlertSettings, 'smtpUrl' | 'emailFrom' | 'webhookSecret'>
  /** The message's whole budget, from connecting to the receiver's answer. */
  timeoutMs: number
  /** Aborts at the timeout or when the run is stopped: the send gives up at once. */
  signal: AbortSignal
}

/**
 * A message its channel did not accept (refused, timed out, a server error):
 * the message stays in the outbox. The message is one line with no secret.
 */
export class SendError extends Error {
  override name = 'SendError'
}

/** A delivery channel: resolves once the receiver accepted the message, throws a SendError otherwise. */
export type SendFn = (message: OutgoingMessage, options: SendOptions) => Promise<void>
