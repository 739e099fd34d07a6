import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { InvalidInputError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { int, json, record } from '../net/validate.js'
import type { ParameterServer, RoundsStopped } from './parameter-server.js'
import { tokenMatches } from './admin-token.js'
import { sendMetrics } from '../prometheus/registry.js'
import { dashboardAsset } from '../dashboard/assets.js'

const MAX_BODY = 64 * 1024

export interface StatusView {
  jobId: string
  model: string
  dataset: string
  selection: string
  transfer: string
  backend?: string
  state: string
  round: number
  queued: number
  /** the last round the server will run as things stand */
  target: number
  current?: ParameterServer['current']
  clients: Array<{ clientId: string, partition: number, state: string, round: number, online: boolean, backend: string, lastSeenS: number, rejected: number, excluded: boolean, held?: number, uploadedBytes?: number, selection?: { selected: boolean, reason: string, score?: number } }>
  results: ParameterServer['results']
  runDir: string
  peerId: string
  addrs: string[]
  /** the last `bt-ps stop` */
  lastStop?: RoundsStopped
}

export function parseRoundsRequest (body: unknown): { count: number } {
  const b = record(body, 'body', ['count'])
  return { count: b.count === undefined ? 1 : int(b.count, 'count', 1, 10000) }
}

async function readBody (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new InvalidInputError('BODY_TOO_LARGE', 'body', `exceeds ${MAX_BODY} bytes`)
    chunks.push(chunk as Buffer)
  }
  return size === 0 ? {} : json(Buffer.concat(chunks), 'body')
}

/** How often a follower of GET /api/events gets the status (clients' states and swarm progress change between rounds). */
const STATUS_EVERY_MS = 1000

/**
 * The admin HTTP API the CLI uses: GET /api/status, POST /api/rounds {count}, GET /api/rounds, DELETE /api/rounds
 * [?now=1], GET /api/events (server-sent events: announced, finished, stopped, and the status every second); bearer
 * token required. GET /metrics: Prometheus metrics, behind the token unless `metricsPublic`. GET /: the live
 * dashboard (src/dashboard/), which asks for the token itself.
 */
export class AdminApi {
  private http?: Server
  private readonly server: ParameterServer
  private readonly log: Logger
  port = 0

  private readonly token: string
  private readonly metricsPublic: boolean

  /** `token`: the bearer token every /api/ request (and /metrics, unless `metricsPublic`) must carry. */
  constructor (components: { server: ParameterServer, log: Logger }, token: string, opts: { metricsPublic?: boolean } = {}) {
    this.server = components.server
    this.log = components.log
    this.token = token
    this.metricsPublic = opts.metricsPublic === true
  }

  status (): StatusView {
    const s = this.server
    const now = Date.now()
    return {
      jobId: s.config.job.id,
      model: s.config.job.model,
      dataset: s.config.job.dataset,
      selection: s.config.job.selection,
      transfer: s.config.job.transfer,
      backend: s.backend != null ? `${s.backend.name} (${s.backend.detail})` : undefined,
      state: s.state,
      round: s.round,
      queued: s.queued,
      target: s.target,
      current: s.current,
      clients: s.clients.map(c => ({ clientId: c.clientId, partition: c.partition, state: c.state, round: c.round, online: c.online, backend: c.backend, lastSeenS: Math.round((now - c.lastSeen) / 100) / 10, rejected: c.rejected, excluded: c.excluded, held: c.held, uploadedBytes: c.uploaded, selection: s.selectionOf(c.clientId) })),
      results: s.results,
      runDir: s.runDir,
      ...(s.lastStop != null ? { lastStop: s.lastStop } : {}),
      peerId: s.peerId,
      addrs: s.multiaddrs
    }
  }

  private async route (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin')
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    // The dashboard's page and scripts hold nothing of the job: the page asks for the token and sends it with each call.
    const asset = req.method === 'GET' ? dashboardAsset(url.pathname) : undefined
    if (asset != null) {
      res.writeHead(200, { 'content-type': asset.type, 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:", 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' })
      res.end(asset.body)
      return
    }
    const needsToken = url.pathname.startsWith('/api/') || (url.pathname === '/metrics' && !this.metricsPublic)
    if (needsToken && !tokenMatches(req.headers.authorization, this.token)) {
      res.setHeader('www-authenticate', 'Bearer')
      return send(401, { error: 'missing or wrong bearer token: pass the token in server.admin_token_file (bt-ps round --token-file FILE)' })
    }
    if (url.pathname === '/metrics' && req.method === 'GET') return await sendMetrics(this.server.metrics, res)
    if (url.pathname === '/api/status' && req.method === 'GET') return send(200, this.status())
    if (url.pathname === '/api/events' && req.method === 'GET') { this.follow(req, res); return }
    if (url.pathname === '/api/rounds' && req.method === 'GET') return send(200, this.server.results)
    if (url.pathname === '/api/rounds' && req.method === 'DELETE') {
      // DELETE /api/rounds drops the queued rounds; ?now=1 also aborts the one in progress.
      const now = url.searchParams.get('now')
      if (now != null && !['0', '1', 'true', 'false'].includes(now)) throw new InvalidInputError('MESSAGE_INVALID', 'now', `expected 1 or 0, got ${JSON.stringify(now.slice(0, 20))}`)
      return send(200, this.server.stopRounds(now === '1' || now === 'true'))
    }
    if (url.pathname === '/api/rounds' && req.method === 'POST') {
      const { count } = parseRoundsRequest(await readBody(req))
      const first = this.server.requestRounds(count)
      return send(202, { first, last: first + count - 1 })
    }
    if (url.pathname.startsWith('/api/')) return send(url.pathname === '/api/status' || url.pathname === '/api/rounds' ? 405 : 404, { error: `no route ${req.method ?? ''} ${url.pathname}` })
    send(404, { error: 'not found' })
  }

  /** Streams round events and status snapshots as server-sent events until the follower goes. */
  private follow (req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    const write = (type: string, data: unknown): void => { res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`) }
    const status = (): void => {
      // A follower that does not read gets no more: its unsent bytes would pile up here.
      if (res.writableLength > 1 << 20) { res.destroy(); return }
      write('status', this.status())
    }
    status()
    const off = this.server.events.on((e) => { write(e.type, e) })
    const timer = setInterval(status, STATUS_EVERY_MS)
    const stop = (): void => { clearInterval(timer); off() }
    req.once('close', stop)
    res.once('close', stop)
  }

  async start (host: string, port: number): Promise<void> {
    if (this.http != null) return
    const http = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        const code = err instanceof InvalidInputError ? 400 : 500
        if (code === 500) this.log.error('admin api error', { reason: errorMessage(err) })
        if (!res.headersSent) res.writeHead(code, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: errorMessage(err) }))
      })
    })
    await new Promise<void>((resolve, reject) => { http.once('error', reject); http.listen(port, host, () => { http.off('error', reject); resolve() }) })
    const address = http.address()
    this.port = typeof address === 'object' && address != null ? address.port : port
    this.http = http
  }

  async stop (): Promise<void> {
    const http = this.http
    this.http = undefined
    if (http != null) await new Promise<void>(resolve => { http.close(() => { resolve() }); http.closeAllConnections() })
  }
}
