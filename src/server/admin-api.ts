import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { InvalidInputError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { int, json, record } from '../net/validate.js'
import type { ParameterServer, RoundsStopped } from './parameter-server.js'
import { tokenMatches } from './admin-token.js'

const MAX_BODY = 64 * 1024

export interface StatusView {
  jobId: string
  model: string
  transfer: string
  backend?: string
  state: string
  round: number
  queued: number
  /** the last round the server will run as things stand */
  target: number
  current?: ParameterServer['current']
  clients: Array<{ clientId: string, partition: number, state: string, online: boolean, backend: string, lastSeenS: number, rejected: number, excluded: boolean }>
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

/**
 * The admin HTTP API the CLI uses: GET /api/status, POST /api/rounds {count}, GET /api/rounds, DELETE /api/rounds
 * [?now=1]; bearer token required.
 */
export class AdminApi {
  private http?: Server
  private readonly server: ParameterServer
  private readonly log: Logger
  port = 0

  private readonly token: string

  /** `token`: the bearer token every /api/ request must carry. */
  constructor (components: { server: ParameterServer, log: Logger }, token: string) {
    this.server = components.server
    this.log = components.log
    this.token = token
  }

  status (): StatusView {
    const s = this.server
    const now = Date.now()
    return {
      jobId: s.config.job.id,
      model: s.config.job.model,
      transfer: s.config.job.transfer,
      backend: s.backend != null ? `${s.backend.name} (${s.backend.detail})` : undefined,
      state: s.state,
      round: s.round,
      queued: s.queued,
      target: s.target,
      current: s.current,
      clients: s.clients.map(c => ({ clientId: c.clientId, partition: c.partition, state: c.state, online: c.online, backend: c.backend, lastSeenS: Math.round((now - c.lastSeen) / 100) / 10, rejected: c.rejected, excluded: c.excluded })),
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
    if (url.pathname.startsWith('/api/') && !tokenMatches(req.headers.authorization, this.token)) {
      res.setHeader('www-authenticate', 'Bearer')
      return send(401, { error: 'missing or wrong bearer token: pass the token in server.admin_token_file (bt-ps round --token-file FILE)' })
    }
    if (url.pathname === '/api/status' && req.method === 'GET') return send(200, this.status())
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
