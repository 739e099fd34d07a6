import { Server } from 'bittorrent-tracker'
import type { Logger } from '../logger.js'
import { BtpsError } from '../errors.js'

export interface TrackerInit { host: string, port: number, announceIntervalS: number, log: Logger }

/**
 * A bittorrent-tracker server with HTTP and UDP announce on one port (port 0 picks a free one for both)
 * and `/stats`. It only tracks swarm membership.
 */
export class TrackerService {
  private server?: Server
  private readonly init: TrackerInit
  port = 0

  constructor (init: TrackerInit) {
    this.init = init
  }

  get announceUrls (): { http: string, udp: string } {
    const host = this.init.host === '0.0.0.0' ? '127.0.0.1' : this.init.host
    return { http: `http://${host}:${this.port}/announce`, udp: `udp://${host}:${this.port}` }
  }

  get swarms (): number { return Object.keys(this.server?.torrents ?? {}).length }

  /** Announces answered since start (HTTP and UDP), for load reports. */
  announces = 0

  async start (): Promise<void> {
    if (this.server != null) return
    const { log } = this.init
    for (let attempt = 0; ; attempt++) {
      const server = new Server({ http: true, udp: true, ws: false, stats: true, interval: this.init.announceIntervalS * 1000 })
      server.on('warning', (err: unknown) => { log.warn('tracker: bad announce', { err: String(err) }) })
      server.on('error', (err: unknown) => { log.warn('tracker error', { err: String(err) }) })
      for (const event of ['start', 'update', 'complete', 'stop']) server.on(event, () => { this.announces++ })
      // bittorrent-tracker binds udp6 to the same host, which fails for an IPv4 address: peers here use IPv4.
      server.udp6?.close()
      server.udp6 = null
      try {
        const http = server.http
        const udp = server.udp4
        if (http == null || udp == null) throw new BtpsError('TRACKER_START', 'tracker sockets missing')
        await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(this.init.port, this.init.host, () => { http.off('error', reject); resolve() }) })
        const address = http.address()
        const port = typeof address === 'object' && address != null ? address.port : this.init.port
        await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(port, this.init.host, () => { udp.off('error', reject); resolve() }) })
        server.listening = true
        this.server = server
        this.port = port
        return
      } catch (err) {
        server.close()
        // With port 0 the UDP twin of the chosen TCP port may be taken: try another.
        if (this.init.port !== 0 || attempt >= 5) throw new BtpsError('TRACKER_START', `tracker cannot listen on ${this.init.host}:${this.init.port}: ${String(err)}`)
      }
    }
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server != null) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }
}
