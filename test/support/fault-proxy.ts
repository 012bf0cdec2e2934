import net from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, for fault injection.
 *
 * - `'pass'`: bytes are forwarded both ways.
 * - `'refuse'`: nothing listens on the port (ECONNREFUSED); open connections are
 *   cut, as when the server dies. Switching back listens again on the same port.
 * - `'blackhole'`: connections are accepted, nothing is forwarded, nothing is
 *   answered, sockets stay open (a silent or SIGSTOPped server). Bytes are held,
 *   not dropped: switching back to pass or delay delivers them, like SIGCONT.
 * - `{delayMs: N}`: every chunk is forwarded N ms after it arrived, in order.
 * - `{stallAfterBytes: N}`: each connection passes N more bytes from the server
 *   to the client, then holds the rest (a server stalling in the middle of a
 *   result); the client's bytes still reach the server. Switching back
 *   delivers what was held.
 *
 * `close()` destroys every socket and timer, so nothing keeps the test process alive.
 */
export type FaultMode = 'pass' | 'refuse' | 'blackhole' | {delayMs: number} | {stallAfterBytes: number}

export interface FaultProxy {
  readonly host: string
  readonly port: number
  readonly mode: FaultMode
  /** Switches the mode; resolves once the listener matches it (listening or not). */
  setMode(mode: FaultMode): Promise<void>
  /** How many client connections the proxy has accepted so far. */
  readonly accepted: number
  close(): Promise<void>
}

export interface FaultProxyOptions {
  targetHost: string
  targetPort: number
  mode?: FaultMode
}

const LOOPBACK = '127.0.0.1'
const END = Symbol('end')

interface Item {
  due: number
  data: Buffer | typeof END
}

/** One direction of one proxied connection: an ordered queue released by the mode. */
class Pipe {
  private readonly queue: Item[] = []
  private timer: NodeJS.Timeout | undefined
  /** Bytes still allowed through in stall mode (server to client only); null: no limit. */
  allowance: number | null = null

  constructor(
    private readonly proxy: Proxy,
    private readonly dest: () => net.Socket | undefined,
    private readonly toClient = false,
  ) {
    this.resetAllowance()
  }

  /** Called when the mode changes: a stall counts its bytes from then on. */
  resetAllowance(): void {
    const mode = this.proxy.mode
    this.allowance = this.toClient && typeof mode === 'object' && 'stallAfterBytes' in mode ? mode.stallAfterBytes : null
  }

  push(data: Buffer | typeof END): void {
    const mode = this.proxy.mode
    const delay = typeof mode === 'object' && 'delayMs' in mode ? mode.delayMs : 0
    this.queue.push({due: Date.now() + delay, data})
    this.pump()
  }

  pump(): void {
    if (this.timer) return
    for (;;) {
      const head = this.queue[0]
      if (!head || this.proxy.mode === 'blackhole') return
      const dest = this.dest()
      if (!dest || dest.connecting) return
      if (dest.destroyed) {
        this.queue.length = 0
        return
      }
      const wait = head.due - Date.now()
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined
          this.pump()
        }, wait)
        return
      }
      if (this.allowance !== null && head.data !== END) {
        if (this.allowance === 0) return
        if (head.data.length > this.allowance) {
          // What is allowed goes now; the rest waits at the head of the queue.
          dest.write(head.data.subarray(0, this.allowance))
          head.data = head.data.subarray(this.allowance)
          this.allowance = 0
          return
        }
        this.allowance -= head.data.length
      }
      this.queue.shift()
      if (head.data === END) dest.end()
      else dest.write(head.data)
    }
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
  }
}

class Link {
  upstream: net.Socket | undefined
  readonly toServer: Pipe
  readonly toClient: Pipe

  constructor(
    private readonly proxy: Proxy,
    readonly client: net.Socket,
  ) {
    this.toServer = new Pipe(proxy, () => this.upstream)
    this.toClient = new Pipe(proxy, () => this.client, true)
    client.on('data', (chunk: Buffer) => this.toServer.push(chunk))
    client.on('end', () => {
      // A client that leaves while nothing was forwarded yet: nothing to deliver.
      if (!this.upstream) this.destroy()
      else this.toServer.push(END)
    })
    client.on('error', () => this.destroy())
    client.on('close', () => {
      // An abrupt close (no FIN first) cuts the other side at once.
      if (!client.readableEnded) this.destroy()
      this.maybeForget()
    })
    if (proxy.mode !== 'blackhole') this.connectUpstream()
  }

  connectUpstream(): void {
    if (this.upstream || this.client.destroyed) return
    const upstream = net.connect({host: this.proxy.targetHost, port: this.proxy.targetPort, allowHalfOpen: true})
    this.upstream = upstream
    upstream.setNoDelay(true)
    upstream.on('connect', () => this.toServer.pump())
    upstream.on('data', (chunk: Buffer) => this.toClient.push(chunk))
    upstream.on('end', () => this.toClient.push(END))
    upstream.on('error', () => this.destroy())
    upstream.on('close', () => {
      if (!upstream.readableEnded) this.destroy()
      this.maybeForget()
    })
  }

  /** Called when the mode changes. */
  resume(): void {
    this.toClient.resetAllowance()
    if (this.proxy.mode === 'blackhole') return
    this.connectUpstream()
    this.toServer.pump()
    this.toClient.pump()
  }

  destroy(): void {
    this.toServer.clear()
    this.toClient.clear()
    this.client.destroy()
    this.upstream?.destroy()
    this.maybeForget()
  }

  private maybeForget(): void {
    if (this.client.destroyed && (!this.upstream || this.upstream.destroyed)) {
      this.toServer.clear()
      this.toClient.clear()
      this.proxy.links.delete(this)
    }
  }
}

class Proxy implements FaultProxy {
  readonly host = LOOPBACK
  port = 0
  mode: FaultMode
  accepted = 0
  readonly links = new Set<Link>()
  private readonly server: net.Server
  private listening = false
  private closed = false
  private chain: Promise<void> = Promise.resolve()

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    mode: FaultMode,
  ) {
    this.mode = mode
    this.server = net.createServer({allowHalfOpen: true}, (socket) => {
      this.accepted++
      socket.setNoDelay(true)
      this.links.add(new Link(this, socket))
    })
    this.server.on('error', () => {})
  }

  async start(): Promise<void> {
    await this.listen(0)
    this.port = (this.server.address() as net.AddressInfo).port
    if (this.mode === 'refuse') await this.unlisten()
  }

  setMode(mode: FaultMode): Promise<void> {
    if (typeof mode === 'object' && 'delayMs' in mode && !(Number.isFinite(mode.delayMs) && mode.delayMs >= 0)) {
      return Promise.reject(new Error(`fault proxy: invalid delay ${String(mode.delayMs)}`))
    }
    if (typeof mode === 'object' && 'stallAfterBytes' in mode && !(Number.isSafeInteger(mode.stallAfterBytes) && mode.stallAfterBytes >= 0)) {
      return Promise.reject(new Error(`fault proxy: invalid byte count ${String(mode.stallAfterBytes)}`))
    }
    const next = this.chain.then(async () => {
      if (this.closed) throw new Error('fault proxy: closed')
      this.mode = mode
      if (mode === 'refuse') {
        for (const link of this.links) link.destroy()
        await this.unlisten()
        return
      }
      if (!this.listening) await this.listen(this.port)
      for (const link of this.links) link.resume()
    })
    this.chain = next.catch(() => {})
    return next
  }

  close(): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.closed) return
      this.closed = true
      for (const link of [...this.links]) link.destroy()
      this.links.clear()
      await this.unlisten()
    })
    this.chain = next.catch(() => {})
    return next
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      this.server.once('error', onError)
      this.server.listen({host: LOOPBACK, port, exclusive: true}, () => {
        this.server.removeListener('error', onError)
        this.listening = true
        resolve()
      })
    })
  }

  private unlisten(): Promise<void> {
    if (!this.listening) return Promise.resolve()
    this.listening = false
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      // close() waits for open connections: cut them (refuse mode and close()).
      for (const link of [...this.links]) link.destroy()
    })
  }
}

/** Starts a proxy on 127.0.0.1 (random port) in front of `targetHost:targetPort`. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  if (!['127.0.0.1', 'localhost', '::1'].includes(options.targetHost)) {
    throw new Error(`fault proxy: only loopback targets are allowed, not ${options.targetHost}`)
  }
  const proxy = new Proxy(options.targetHost, options.targetPort, options.mode ?? 'pass')
  await proxy.start()
  return proxy
}
