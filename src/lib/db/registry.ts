import type {Knex} from 'knex'
import {createHash} from 'node:crypto'
import net from 'node:net'

import {rememberSecret} from '../redact/index.js'
import type {RdsConnectionSpec} from './connection-spec.js'
import {type FleetOptions, knexConfigFor} from './knex-config.js'

/** An RDS as the registry reports it. */
export interface RdsRef {
  id: number
  name: string
}

export interface DestroyReport {
  /** Instances whose pools closed within the time allowed. */
  destroyed: RdsRef[]
  /**
   * Instances whose pools did not close in time (a connect, a query or a quit
   * waiting on a silent server). Their sockets have been cut, so they no longer
   * keep the process alive; their knex teardown finishes in the background.
   */
  unfinished: RdsRef[]
}

interface Entry extends RdsRef {
  fingerprint: string
  knex: Knex
  /** Every TCP socket the drivers opened for this RDS and that is not closed yet. */
  sockets: Set<net.Socket>
  /** When each open socket last received a byte (performance.now()), and the listener that notes it. */
  heard: Map<net.Socket, {at: number; listener: () => void}>
  destroying?: Promise<void>
}

type KnexFactory = (config: Knex.Config) => Knex

let knexFactory: Promise<KnexFactory> | undefined

/** knex (and through it the drivers) is loaded on first use, never at import time. */
function loadKnex(): Promise<KnexFactory> {
  knexFactory ??= import('knex').then((module) => module.default as KnexFactory)
  return knexFactory
}

function fingerprintOf(spec: RdsConnectionSpec): string {
  const parts = [spec.engine, spec.host, spec.port, spec.username, spec.password, spec.database]
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex')
}

/** Lets the registry see (and, when needed, cut) every socket the driver opens, and when each last heard from the server. */
function withSocketTracking(config: Knex.Config, engine: RdsConnectionSpec['engine'], sockets: Set<net.Socket>, heard: Entry['heard']): Knex.Config {
  const track = (socket: net.Socket): net.Socket => {
    sockets.add(socket)
    // Added before the driver's own listener, in the same tick: no byte is missed by either.
    const note = {at: performance.now(), listener: () => void (note.at = performance.now())}
    socket.on('data', note.listener)
    heard.set(socket, note)
    socket.once('close', () => {
      sockets.delete(socket)
      heard.delete(socket)
    })
    // The driver listens for errors too; this one only guarantees a cut socket never throws.
    socket.on('error', () => {})
    return socket
  }
  const connection = config.connection
  if (typeof connection !== 'object' || connection === null) return config
  if (engine === 'mysql') {
    const settings = connection as Knex.MySql2ConnectionConfig
    // What mysql2 does itself when it is given no stream: connect, no Nagle, keep-alive.
    const stream = (opts: {config: {host: string; port: number; keepAliveInitialDelay?: number}}) => {
      const socket = track(net.connect(opts.config.port, opts.config.host))
      socket.setNoDelay(true)
      socket.once('connect', () => socket.setKeepAlive(true, opts.config.keepAliveInitialDelay ?? 0))
      return socket
    }
    return {...config, connection: {...settings, stream}}
  }
  if (engine === 'postgres') {
    const settings = connection as Knex.PgConnectionConfig
    return {...config, connection: {...settings, stream: () => track(new net.Socket())}}
  }
  return config
}

/**
 * Cuts the sockets of an instance whose teardown did not finish. Destroying with
 * an error (not a bare destroy) makes the drivers fail whatever waits on them and
 * clear their own timers (mysql2's connect timeout), so nothing keeps the process alive.
 */
function cutSockets(entry: Entry): void {
  for (const socket of entry.sockets) {
    const error = new Error('connection abandoned: the server did not answer before shutdown') as Error & {code: string}
    error.code = 'ECONNABORTED'
    socket.destroy(error)
  }
  entry.sockets.clear()
}

/** Sockets a driver only half-closed (quit sent, the server's FIN awaited) get a moment, then are cut. */
const QUIT_GRACE_MS = 1000

function cutSocketsAfterGrace(entry: Entry): void {
  for (const socket of entry.sockets) {
    const timer = setTimeout(() => socket.destroy(), QUIT_GRACE_MS)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }
}

/**
 * One knex instance per RDS, built on demand from its connection spec and
 * torn down by `destroyAll` when the command ends. A spec that changed (new
 * host, password…) gets a fresh instance; the old one is retired.
 */
export class ConnectionRegistry {
  private readonly entries = new Map<number, Entry>()
  private readonly retiring = new Set<Entry>()

  constructor(readonly options: FleetOptions) {}

  /** The knex instance of this RDS, created (with an empty pool) on first use. */
  async get(spec: RdsConnectionSpec): Promise<Knex> {
    const factory = await loadKnex()
    rememberSecret(spec.password)
    const fingerprint = fingerprintOf(spec)
    const existing = this.entries.get(spec.id)
    if (existing && existing.fingerprint === fingerprint) return existing.knex
    if (existing) {
      this.entries.delete(spec.id)
      this.retiring.add(existing)
      void this.destroyEntry(existing).then(() => this.retiring.delete(existing))
    }
    const sockets = new Set<net.Socket>()
    const heard: Entry['heard'] = new Map()
    const config = withSocketTracking(knexConfigFor(spec, this.options), spec.engine, sockets, heard)
    const entry: Entry = {id: spec.id, name: spec.name, fingerprint, sockets, heard, knex: factory(config)}
    this.entries.set(spec.id, entry)
    return entry.knex
  }

  /** Runs `fn` with the knex instance of this RDS. */
  async query<T>(spec: RdsConnectionSpec, fn: (db: Knex) => Promise<T>): Promise<T> {
    return fn(await this.get(spec))
  }

  /**
   * Drops the instance of an RDS whose work was given up (a probe past its
   * deadline): its sockets are cut now, so neither its pending connect nor the
   * final teardown waits on a server that does not answer. A later `get` rebuilds.
   */
  abandon(id: number): void {
    const entry = this.entries.get(id)
    if (!entry) return
    this.entries.delete(id)
    cutSockets(entry)
    this.retiring.add(entry)
    void this.destroyEntry(entry).then(() => this.retiring.delete(entry))
  }

  /**
   * How long the server of this RDS has sent nothing on any of its open
   * connections, ms: what a timeout is to be explained by. Null when it cannot
   * be told (no connection open, a file database, or a driver that moved its
   * reading elsewhere, as a TLS upgrade does).
   */
  quietMs(id: number): number | null {
    const entry = this.entries.get(id)
    if (!entry || entry.heard.size === 0) return null
    let latest = Number.NEGATIVE_INFINITY
    for (const [socket, note] of entry.heard) {
      if (!socket.listeners('data').includes(note.listener)) return null
      latest = Math.max(latest, note.at)
    }
    return Math.round(performance.now() - latest)
  }

  /** The RDS that currently have an instance. */
  get size(): number {
    return this.entries.size
  }

  has(id: number): boolean {
    return this.entries.has(id)
  }

  /**
   * Destroys every instance concurrently and returns after at most `timeoutMs`.
   * knex/tarn's destroy waits for pending connects and in-use connections, which
   * against a silent server never end; those are reported as unfinished and
   * their sockets are cut. The registry stays usable: later `get`s rebuild.
   */
  async destroyAll({timeoutMs}: {timeoutMs: number}): Promise<DestroyReport> {
    const entries = [...this.entries.values(), ...this.retiring]
    this.entries.clear()
    this.retiring.clear()
    const finished = new Set<Entry>()
    let timer: NodeJS.Timeout | undefined
    const timeUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs))
    })
    try {
      await Promise.race([Promise.all(entries.map((entry) => this.destroyEntry(entry).then(() => void finished.add(entry)))), timeUp])
    } finally {
      clearTimeout(timer)
    }
    const unfinished = entries.filter((entry) => !finished.has(entry))
    for (const entry of unfinished) cutSockets(entry)
    const ref = ({id, name}: Entry): RdsRef => ({id, name})
    return {destroyed: entries.filter((entry) => finished.has(entry)).map(ref), unfinished: unfinished.map(ref)}
  }

  private destroyEntry(entry: Entry): Promise<void> {
    entry.destroying ??= entry.knex.destroy().then(
      () => cutSocketsAfterGrace(entry),
      () => cutSocketsAfterGrace(entry),
    )
    return entry.destroying
  }
}
