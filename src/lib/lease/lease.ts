import type {Knex} from 'knex'
import {randomBytes} from 'node:crypto'
import {hostname} from 'node:os'
import {setTimeout as sleep} from 'node:timers/promises'

import {isUniqueViolation} from '../db/control-db.js'
import {describeDriverError} from '../db/driver-errors.js'
import {LOCKS_TABLE, type LockRow} from '../db/tables.js'
import {toIsoRequired} from '../db/values.js'
import {BusyError} from '../errors/index.js'
import {processIdentity, provenGone, type ProcessIdentity} from './process-identity.js'

/**
 * A lease on a named job (one sync kind) in the control database's `locks`
 * table, so that two runs of it never overlap, on one machine or several.
 *
 * The row names its holder (`host:pid:id`, and on Linux what proves which
 * process that pid is: `:bootId/pidNamespace/startTime`) and when it expires.
 * The holder keeps it alive with a heartbeat; a run that crashes stops
 * renewing it and loses it `ttlMs` after its last heartbeat, or at once to a
 * run that can prove it gone: same host, same boot, same pid namespace, and its
 * pid now names no process or one started at another time. A hostname alone
 * proves nothing (two containers may share one, each numbering its own
 * processes), so a holder that cannot be proven gone keeps its lease until it
 * expires. Every change is conditional on the holder (and, for a takeover, on
 * what was read), so of two racing runs exactly one wins.
 */

export interface LeaseHolder {
  host: string
  pid: number
  id: string
  /** Which process the pid named when the lease was taken (Linux); null when unknown. */
  process: ProcessIdentity | null
}

export interface LeaseInfo {
  name: string
  holder: LeaseHolder
  acquiredAt: string
  expiresAt: string
}

export interface Lease {
  readonly name: string
  readonly holder: LeaseHolder
  /** Aborted (reason: an Error saying the lease was lost) when a heartbeat finds the lease taken by another run or gone. */
  readonly signal: AbortSignal
  /** Renews now (also done by the heartbeat timer); throws BusyError if the lease is no longer ours. */
  renew(): Promise<void>
  /** Stops the heartbeat and deletes the row if it is still ours. Idempotent; never throws. */
  release(): Promise<void>
}

export interface AcquireLeaseOptions {
  /** Lease lifetime without a heartbeat, ms. Default 60_000. A crashed run's lease expires this long after its last heartbeat. */
  ttlMs?: number
  /** Heartbeat period, ms. Default ttlMs / 4. 0 disables the timer (tests). */
  heartbeatMs?: number
  /** Wait up to this long for a held lease to be released or expire, polling (about every 250 ms, capped by what remains). Default 0: fail at once. */
  waitMs?: number
  /** Defaults: os.hostname(), process.pid, a random id, the identity of that pid here. */
  holder?: Partial<LeaseHolder>
  now?: () => Date
}

const DEFAULT_TTL_MS = 60_000
const POLL_MS = 250
const MAX_NAME_LENGTH = 128
const MAX_HOLDER_LENGTH = 255
/** Attempts in a row without sleeping when the row changes under us (released, or taken over by a third run). */
const MAX_QUICK_RETRIES = 5

/** A holder as the `locks` and `jobs` tables store it. */
export function formatHolder(holder: LeaseHolder): string {
  const proof = holder.process ? `:${holder.process.bootId}/${holder.process.pidNamespace}/${holder.process.startTime ?? ''}` : ''
  return `${holder.host}:${holder.pid}:${holder.id}${proof}`
}

/**
 * `host:pid:id:bootId/pidNamespace/startTime`, or `host:pid:id` (no proof, or
 * an older raiops), read from the right: none of the fields after the host
 * contains a colon. The form with the proof is tried first, so an id of digits
 * is never taken for a pid.
 */
const HOLDER_WITH_PROOF = /^(.*):(-?\d+):([^:]*):([0-9a-f-]+)\/(\d+)\/(\d*)$/i
const HOLDER_PLAIN = /^(.*):(-?\d+):([^:]*)$/

export function parseHolder(text: string): LeaseHolder {
  const proven = HOLDER_WITH_PROOF.exec(text)
  const parts = proven ?? HOLDER_PLAIN.exec(text)
  const pid = parts ? Number(parts[2]) : Number.NaN
  if (!parts || !Number.isSafeInteger(pid)) return {host: text, pid: 0, id: '', process: null}
  const process = proven ? {bootId: proven[4], pidNamespace: proven[5], startTime: proven[6] === '' ? null : proven[6]} : null
  return {host: parts[1], pid, id: parts[3], process}
}

/**
 * Whether the holder stored as `text` is a process of this machine proven
 * gone (see above): its host is this one (`host`, default os.hostname()) and
 * `provenGone` says so. A holder without the proof never is.
 */
export function holderProvenGone(text: string, host: string = hostname()): boolean {
  const holder = parseHolder(text)
  return holder.host === host && provenGone(holder.pid, holder.process)
}

function toInfo(row: LockRow): LeaseInfo {
  return {
    name: row.name,
    holder: parseHolder(row.holder),
    acquiredAt: toIsoRequired(row.acquired_at),
    expiresAt: toIsoRequired(row.expires_at),
  }
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new RangeError(`a lease name must have 1 to ${MAX_NAME_LENGTH} characters, got ${name.length}`)
  }
}

function checkMs(what: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${what} must be a number of ms ≥ ${min}, got ${value}`)
}

function busyError(name: string, held: LeaseInfo | null): BusyError {
  if (held === null) return new BusyError(`${name} is being acquired by another run`, {hint: 'wait for it to finish or pass --wait SECONDS'})
  return new BusyError(`${name} is already running on ${held.holder.host} (pid ${held.holder.pid}) since ${held.acquiredAt}`, {
    hint: 'wait for it to finish, pass --wait SECONDS, or let its lease expire (at ' + held.expiresAt + ') if it crashed',
  })
}

/** The lease named `name` as stored, expired or not; null when nobody holds it. */
export async function readLease(db: Knex, name: string): Promise<LeaseInfo | null> {
  const row = await db(LOCKS_TABLE).where({name}).first()
  return row === undefined ? null : toInfo(row)
}

/**
 * Takes the lease `name`, or throws BusyError naming the run that holds it
 * (after polling up to `waitMs` for it to be released or to expire).
 * An expired lease, or one whose holder is proven gone (see above), is taken over.
 */
export async function acquireLease(db: Knex, name: string, options: AcquireLeaseOptions = {}): Promise<Lease> {
  checkName(name)
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS
  checkMs('ttlMs', ttlMs, 1)
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(ttlMs / 4))
  checkMs('heartbeatMs', heartbeatMs, 0)
  if (heartbeatMs >= ttlMs) throw new RangeError(`heartbeatMs (${heartbeatMs}) must be below ttlMs (${ttlMs}), or the lease expires between heartbeats`)
  const waitMs = options.waitMs ?? 0
  checkMs('waitMs', waitMs, 0)
  const now = options.now ?? (() => new Date())
  const pid = options.holder?.pid ?? process.pid
  const holder: LeaseHolder = {
    host: options.holder?.host ?? hostname(),
    pid,
    id: options.holder?.id ?? randomBytes(6).toString('hex'),
    process: options.holder?.process === undefined ? processIdentity(pid) : options.holder.process,
  }
  if (holder.id.includes(':') || !Number.isSafeInteger(holder.pid)) throw new RangeError('a lease holder needs an integer pid and an id without ":"')
  let holderText = formatHolder(holder)
  // A hostname too long for both keeps the lease without the proof: it is then never taken over before it expires.
  if (holderText.length > MAX_HOLDER_LENGTH && holder.process) {
    holder.process = null
    holderText = formatHolder(holder)
  }
  if (holderText.length > MAX_HOLDER_LENGTH) throw new RangeError(`a lease holder must fit in ${MAX_HOLDER_LENGTH} characters: ${holderText}`)

  const deadline = performance.now() + waitMs
  let quickRetries = 0
  for (;;) {
    const at = now()
    const expiresAt = new Date(at.getTime() + ttlMs)
    try {
      await db(LOCKS_TABLE).insert({name, holder: holderText, acquired_at: at, expires_at: expiresAt})
      return startLease({db, name, holder, holderText, ttlMs, heartbeatMs, now, expiresAtMs: expiresAt.getTime()})
    } catch (error) {
      if (!isUniqueViolation(error)) throw error
    }

    const row = await db(LOCKS_TABLE).where({name}).first()
    let held: LeaseInfo | null = null
    if (row !== undefined) {
      held = toInfo(row)
      const expired = Date.parse(held.expiresAt) < at.getTime()
      const crashedHere = held.holder.host === holder.host && provenGone(held.holder.pid, held.holder.process)
      if (expired || crashedHere) {
        // Conditional on what was read: if another run took it over first, or
        // the holder renewed it meanwhile, nothing matches and the lease is held.
        let takeover = db(LOCKS_TABLE).where({name, holder: row.holder})
        if (!crashedHere) takeover = takeover.andWhere('expires_at', '<', at)
        const updated = await takeover.update({holder: holderText, acquired_at: at, expires_at: expiresAt})
        if (Number(updated) === 1) return startLease({db, name, holder, holderText, ttlMs, heartbeatMs, now, expiresAtMs: expiresAt.getTime()})
        if (quickRetries++ < MAX_QUICK_RETRIES) continue // read who won, for the message
      }
    } else if (quickRetries++ < MAX_QUICK_RETRIES) {
      continue // released between the insert and the read: try again at once
    }

    const remaining = deadline - performance.now()
    if (remaining <= 0) throw busyError(name, held)
    await sleep(Math.min(POLL_MS, remaining))
    quickRetries = 0
  }
}

interface LeaseState {
  db: Knex
  name: string
  holder: LeaseHolder
  holderText: string
  ttlMs: number
  heartbeatMs: number
  now: () => Date
  expiresAtMs: number
}

function startLease(state: LeaseState): Lease {
  const {db, name, holderText, ttlMs, now} = state
  const controller = new AbortController()
  let expiresAtMs = state.expiresAtMs
  let released = false
  let releasing: Promise<void> | undefined
  let beating: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined

  function stop(): void {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
  }

  function lose(reason: string, cause?: unknown): BusyError {
    stop()
    if (!controller.signal.aborted) {
      controller.abort(
        new BusyError(`lost the lease ${name}: ${reason}`, {
          hint: "another run may be doing the same work: check it, and this run's results, before running again",
          cause,
        }),
      )
    }
    return controller.signal.reason as BusyError
  }

  async function whoHasIt(): Promise<string> {
    try {
      const info = await readLease(db, name)
      if (info === null) return 'its row is gone'
      return `another run took it over (${info.holder.host}, pid ${info.holder.pid}, since ${info.acquiredAt})`
    } catch {
      return 'another run took it over'
    }
  }

  /** Pushes expires_at forward if the row is still ours; false when it is not. */
  async function extend(): Promise<boolean> {
    const next = new Date(now().getTime() + ttlMs)
    const updated = await db(LOCKS_TABLE).where({name, holder: holderText}).update({expires_at: next})
    if (Number(updated) < 1) return false
    expiresAtMs = Math.max(expiresAtMs, next.getTime())
    return true
  }

  function expiredError(cause: unknown): string {
    return `could not renew it before it expired at ${new Date(expiresAtMs).toISOString()}: ${describeDriverError(cause)}`
  }

  async function beat(): Promise<void> {
    try {
      if (await extend()) return
      if (!released) lose(await whoHasIt())
    } catch (error) {
      // A failed query is retried at the next tick, as long as the lease has not expired meanwhile.
      if (!released && now().getTime() >= expiresAtMs) lose(expiredError(error), error)
    }
  }

  function tick(): void {
    if (released || controller.signal.aborted) return stop()
    if (beating !== undefined) {
      // The previous heartbeat still hangs: past the expiry, another run may have the lease.
      if (now().getTime() >= expiresAtMs) lose(expiredError(new Error('the heartbeat query did not answer')))
      return
    }
    beating = beat().finally(() => {
      beating = undefined
    })
  }

  if (state.heartbeatMs > 0) {
    timer = setInterval(tick, state.heartbeatMs)
    timer.unref()
  }

  return {
    name,
    holder: {...state.holder},
    signal: controller.signal,
    async renew(): Promise<void> {
      if (released) throw new BusyError(`the lease ${name} was released`)
      if (controller.signal.aborted) throw controller.signal.reason
      if (await extend()) return
      if (released) throw new BusyError(`the lease ${name} was released`)
      throw lose(await whoHasIt())
    },
    release(): Promise<void> {
      releasing ??= (async () => {
        released = true
        stop()
        // A heartbeat still in flight cannot bring the row back: an UPDATE matches nothing once it is deleted.
        try {
          await db(LOCKS_TABLE).where({name, holder: holderText}).delete()
        } catch {
          // the lease expires by itself
        }
      })()
      return releasing
    },
  }
}

/** A lease lives this long past its last heartbeat: a killed run's lease is taken over within about a minute. */
export const LEASE_TTL_MS = 60_000

/** The lease of a sync kind; a shard has its own, so the workers of one fleet run side by side. */
export function leaseName(kind: string, shard?: {index: number; count: number}): string {
  return shard && shard.count > 1 ? `sync:${kind}:${shard.index}/${shard.count}` : `sync:${kind}`
}
