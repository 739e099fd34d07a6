import { Server } from 'bittorrent-tracker'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../logger.js'
import { BtpsError } from '../errors.js'
import { addressPrefix, isLoopback } from '../net/address.js'
import { bencode } from '../swarm/bencode.js'
import { REGISTER_PATH, RegisteredTorrents, checkStatsToken } from './registration.js'
import type { Registry } from 'prom-client'
import { sendMetrics, unscrapedRegistry } from '../prometheus/registry.js'
import { TrackerMetrics } from './tracker-metrics.js'

export interface TrackerInit {
  host: string
  port: number
  announceIntervalS: number
  log: Logger
  /** the job's pre-shared key: serve only torrents registered with it */
  psk?: Uint8Array
  /** peers one address may have in a swarm (0: no cap) */
  maxPeersPerAddress?: number
  /** whether loopback addresses are capped too (a local job runs every peer on 127.0.0.1) */
  capLoopback?: boolean
  /** how often swarms without live peers (and a private tracker's unregistered ones) are dropped (default: 10 intervals, at least 10 s) */
  expireEveryMs?: number
  /** where its metrics go; served at GET /metrics on the HTTP port */
  metrics?: Registry
}

class RefusedAnnounce extends Error {}


type TrackedSwarm = Server['torrents'][string]

/**
 * A bittorrent-tracker server with HTTP and UDP announce on one port (port 0 picks a free one for both)
 * and `/stats`. It only tracks swarm membership. With the job's key it is private: it answers announces only for
 * torrents the job's server registered (see registration.ts), and no scrape lists the torrents it holds.
 */
export class TrackerService {
  private server?: Server
  private readonly init: TrackerInit
  port = 0

  private readonly registry: Registry
  private readonly metrics: TrackerMetrics

  constructor (init: TrackerInit) {
    this.init = init
    this.registry = init.metrics ?? unscrapedRegistry()
    this.metrics = new TrackerMetrics(this.registry, () => { const s = this.stats(); return { swarms: s.torrents, peers: s.peersAll } })
    if (init.psk != null) this.registered = new RegisteredTorrents(init.psk)
  }

  get announceUrls (): { http: string, udp: string } {
    const host = this.init.host === '0.0.0.0' ? '127.0.0.1' : this.init.host
    return { http: `http://${host}:${this.port}/announce`, udp: `udp://${host}:${this.port}` }
  }

  get swarms (): number { return Object.keys(this.server?.torrents ?? {}).length }

  /** Announces answered since start (HTTP and UDP), for load reports. */
  announces = 0
  /** Announces refused for a torrent the job never registered. */
  refused = 0
  private readonly registered?: RegisteredTorrents

  get registeredTorrents (): number { return this.registered?.size ?? 0 }

  async start (): Promise<void> {
    if (this.server != null) return
    const { log } = this.init
    for (let attempt = 0; ; attempt++) {
      const filter = (infoHash: string, params: unknown, cb: (err: Error | null) => void): void => { cb(this.refusal(infoHash, params as { ip?: string, addr?: string })) }
      // Peers that stop announcing leave the swarm after a few intervals, not bittorrent-tracker's 20 minutes.
      const peersCacheTtl = Math.max(60_000, 4 * this.init.announceIntervalS * 1000)
      // A private tracker answers /stats itself, to its job's token only (bittorrent-tracker's would answer anyone first).
      const server = new Server({ http: true, udp: true, ws: false, stats: this.init.psk == null, interval: this.init.announceIntervalS * 1000, filter, peersCacheTtl })
      // Ours runs before bittorrent-tracker's own handler, which leaves alone a request already answered.
      server.http?.on('request', (req: IncomingMessage, res: ServerResponse) => { this.onHttpRequest(req, res) })
      server.on('warning', (err: unknown) => {
        if (err instanceof RefusedAnnounce) { this.refused++; this.metrics.announce('refused'); log.debug('tracker: refused announce', { reason: err.message }); return }
        log.warn('tracker: bad announce', { err: String(err) })
      })
      server.on('error', (err: unknown) => { log.warn('tracker error', { err: String(err) }) })
      for (const event of ['start', 'update', 'complete', 'stop']) server.on(event, () => { this.announces++; this.metrics.announce('answered') })
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
        this.expiry = setInterval(() => { this.expire() }, this.init.expireEveryMs ?? Math.max(10_000, 10 * this.init.announceIntervalS * 1000))
        return
      } catch (err) {
        server.close()
        // With port 0 the UDP twin of the chosen TCP port may be taken: try another.
        if (this.init.port !== 0 || attempt >= 5) throw new BtpsError('TRACKER_START', `tracker cannot listen on ${this.init.host}:${this.init.port}: ${String(err)}`)
      }
    }
  }

  private expiry?: NodeJS.Timeout

  private swarmOf (infoHash: string): TrackedSwarm | undefined {
    return this.server?.torrents[infoHash]
  }

  /** Why an announce is refused (a private job's unregistered torrent, too many peers from one address), or null. */
  private refusal (infoHash: string, params: { ip?: string, addr?: string }): Error | null {
    if (this.registered != null && !this.registered.has(infoHash)) return new RefusedAnnounce(`unknown torrent ${infoHash}: this tracker serves only its job's torrents`)
    const cap = this.init.maxPeersPerAddress ?? 0
    const ip = params.ip ?? ''
    const swarm = this.swarmOf(infoHash)
    if (cap === 0 || swarm == null || (this.init.capLoopback !== true && isLoopback(ip))) return null
    if (params.addr != null && swarm.peers.keys.includes(params.addr)) return null
    const prefix = addressPrefix(ip)
    const from = swarm.peers.keys.filter(k => k.startsWith(prefix)).length
    return from >= cap ? new RefusedAnnounce(`${ip} already has ${from} peers in the swarm of ${infoHash} (tracker.max_peers_per_address)`) : null
  }

  /** Swarms and peers, as a private tracker's /stats.json tells its job. */
  private stats (): { torrents: number, activeTorrents: number, peersAll: number } {
    const swarms = Object.values(this.server?.torrents ?? {})
    const sizes = swarms.map(s => s.peers.keys.length)
    return { torrents: swarms.length, activeTorrents: sizes.filter(n => n > 0).length, peersAll: sizes.reduce((a, b) => a + b, 0) }
  }

  /** Drops swarms with no live peer left, and a private tracker's swarms of torrents no longer registered. */
  private expire (): void {
    const torrents = this.server?.torrents
    if (torrents == null) return
    for (const [infoHash, swarm] of Object.entries(torrents)) {
      // peek drops peers past their age
      const live = swarm.peers.keys.filter(k => swarm.peers.peek(k) != null).length
      if (live === 0 || (this.registered != null && !this.registered.has(infoHash))) Reflect.deleteProperty(torrents, infoHash)
    }
  }

  private onHttpRequest (req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? ''
    // Counts only, no infohashes: open to any scraper, private job or not.
    if (/^\/metrics(\?|$)/.test(url) && req.method === 'GET') {
      req.resume()
      void sendMetrics(this.registry, res)
      return
    }
    // A private tracker's swarms are its job's business: /stats takes a token derived from the job's key.
    if (this.init.psk != null && /^\/stats(\.json)?(\?|$)/.test(url)) {
      req.resume()
      const member = checkStatsToken(this.init.psk, req.headers.authorization)
      res.writeHead(member ? 200 : 401, { 'content-type': 'application/json' })
      res.end(JSON.stringify(member ? this.stats() : { error: 'this tracker is private: /stats needs Authorization: Bearer <HMAC-SHA256 of "bt-ps tracker stats" under the job key>' }))
      return
    }
    if (url.startsWith('/bt-ps/')) {
      req.resume()
      const verdict = this.registered?.register(req.method, url, req.headers.authorization) ??
        { status: 404, reason: 'this tracker has no job key: it serves any torrent and takes no registrations' }
      this.metrics.registration(verdict.status === 204 ? 'accepted' : 'refused')
      if (verdict.status === 204) this.init.log.debug('tracker: torrent registered', { infoHash: url.slice(REGISTER_PATH.length) })
      else this.init.log.warn('tracker: registration refused', { status: verdict.status, reason: verdict.reason, from: req.socket.remoteAddress })
      res.writeHead(verdict.status, { 'content-type': 'application/json' })
      res.end(verdict.status === 204 ? undefined : JSON.stringify({ error: verdict.reason }))
      return
    }
    // A scrape without infohashes lists every torrent; a private tracker keeps its job's infohashes to itself.
    if (this.registered != null && /^\/scrape(\?|$)/.test(url) && !/[?&]info_hash=/.test(url)) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(bencode({ 'failure reason': new TextEncoder().encode('a scrape must name its infohashes') }))
    }
  }

  async stop (): Promise<void> {
    clearInterval(this.expiry)
    const server = this.server
    this.server = undefined
    if (server != null) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }
}
