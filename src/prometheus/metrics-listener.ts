import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { Registry } from 'prom-client'
import { BtpsError, errorMessage } from '../errors.js'
import { sendMetrics } from './registry.js'

/** An HTTP listener that serves only GET /metrics (a client's `client.metrics_port`). */
export class MetricsListener {
  private http?: Server
  port = 0

  constructor (private readonly registry: Registry) {}

  async start (host: string, port: number): Promise<void> {
    const http = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('only GET /metrics here\n')
        return
      }
      void sendMetrics(this.registry, res)
    })
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err) => { reject(new BtpsError('METRICS_LISTEN', `metrics cannot listen on ${host}:${port}: ${errorMessage(err)}`)) })
      http.listen(port, host, () => { resolve() })
    })
    const a = http.address()
    this.port = typeof a === 'object' && a != null ? a.port : port
    this.http = http
  }

  async stop (): Promise<void> {
    const http = this.http
    this.http = undefined
    if (http != null) await new Promise<void>(resolve => { http.close(() => { resolve() }); http.closeAllConnections() })
  }
}
