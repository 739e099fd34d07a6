import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRole, stopRole } from '../../src/cli/child-process.js'
import type { RoleProcess } from '../../src/cli/child-process.js'
import { AdminClient, readTokenFile } from '../../src/cli/admin-client.js'
import { loadPsk } from '../../src/net/psk.js'
import { scrapeMetrics } from '../support/metrics.js'
import type { Scrape } from '../support/metrics.js'

export { until } from '../support/until.js'

export interface Cluster {
  dir: string
  trackerUdp: string
  trackerHttp: string
  serverAddr: string
  admin: AdminClient
  /** the admin API's base URL, for `bt-ps round|status --server` */
  adminUrl: string
  /** the server's admin bearer token, for `bt-ps round --token-file` */
  adminTokenFile: string
  runDir: string
  processes: RoleProcess[]
  startClient: (id: string, extra?: string[]) => Promise<RoleProcess>
  /** The server process now (restartServer replaces it). */
  server: RoleProcess
  /** Starts the server again with the same ports, dirs and job; the previous one must be gone. */
  restartServer: () => Promise<RoleProcess>
  tracker: RoleProcess
  /** Starts the tracker again on the same port; the previous one must be gone. */
  restartTracker: () => Promise<RoleProcess>
  /** Prometheus metrics of a role: 'tracker', 'server' (the scrape carries the admin token) or a client id. */
  metrics: (role: string) => Promise<Scrape>
  /** where each role serves its metrics, by role ('tracker', 'server') or client id */
  metricsUrls: () => Record<string, string>
}

/**
 * A real local cluster: tracker, server and `clients` client processes on 127.0.0.1 with OS-chosen ports, all
 * files under a temp dir. Returns [cluster, close]; close stops every process and deletes the dir, or on failure
 * (or BTPS_KEEP_TEST_DIRS=1) keeps it and prints the tail of every log.
 */
export async function startCluster (opts: { clients: number, jobClients?: number, jobFlags: string[] }): Promise<[Cluster, (failed?: boolean) => Promise<void>]> {
  const dir = mkdtempSync(join(tmpdir(), 'btps-e2e-'))
  const processes: RoleProcess[] = []
  const close = async (failed = false): Promise<void> => {
    for (const p of [...processes].reverse()) await stopRole(p)
    if (failed || process.env.BTPS_KEEP_TEST_DIRS === '1') {
      for (const f of readdirSync(dir).filter(n => n.endsWith('.log'))) console.error(`--- ${f}\n${readFileSync(join(dir, f), 'utf8').split('\n').filter(l => !l.startsWith('Warning')).slice(-15).join('\n')}`)
    } else rmSync(dir, { recursive: true, force: true })
  }
  try {
    const common = ['--log-level', 'info', '--job.psk_file', join(dir, 'swarm.key'), ...opts.jobFlags, '--clients', String(opts.jobClients ?? opts.clients)]
    // Fixed ports, so a restarted tracker or server is where the others look for it. Each start logs to its own file.
    const starter = (role: string, args: string[]): () => RoleProcess => {
      let starts = 0
      return () => {
        const p = startRole(role, args, join(dir, starts++ === 0 ? `${role}.log` : `${role}-${starts}.log`))
        processes.push(p)
        return p
      }
    }
    // The job's key exists before the tracker starts: a private tracker serves only torrents registered with it.
    loadPsk(join(dir, 'swarm.key'), { create: true })
    const startTracker = starter('tracker', ['tracker', '--port', String(await freePort()), '--host', '127.0.0.1', '--job.psk_file', join(dir, 'swarm.key')])
    const tracker = startTracker()
    const t = await tracker.ready
    const startServer = starter('server', ['server', ...common, '--tracker', String(t.udp), '--p2p-port', String(await freePort()), '--admin-port', String(await freePort()), '--runs-dir', join(dir, 'runs'), '--checkpoint-dir', join(dir, 'checkpoints')])
    const server = startServer()
    const s = await server.ready
    const serverAddr = (s.addrs as string[])[0]
    const metricsUrls = new Map<string, string>([['tracker', String(t.metrics)], ['server', String(s.metrics)]])
    const startClient = async (id: string, extra: string[] = []): Promise<RoleProcess> => {
      const c = startRole(id, ['client', ...common, '--tracker', String(t.udp), '--server', serverAddr, '--id', id, '--client.metrics_port', '0', ...extra], join(dir, `${id}.log`))
      processes.push(c)
      const ready = await c.ready
      if (typeof ready.metrics === 'string') metricsUrls.set(id, ready.metrics)
      return c
    }
    await Promise.all(Array.from({ length: opts.clients }, async (_v, i) => await startClient(`client-${i + 1}`)))
    const admin = new AdminClient(String(s.admin), readTokenFile(String(s.adminTokenFile)))
    const cluster: Cluster = {
      metricsUrls: () => Object.fromEntries(metricsUrls),
      metrics: async (role) => {
        const url = metricsUrls.get(role)
        if (url == null) throw new Error(`no metrics address for ${role}`)
        return await scrapeMetrics(url, role === 'server' ? readTokenFile(String(s.adminTokenFile)) : undefined)
      },
      dir, trackerUdp: String(t.udp), trackerHttp: String(t.http), serverAddr, admin, adminUrl: String(s.admin), adminTokenFile: String(s.adminTokenFile), runDir: String(s.runDir), processes, startClient, server, tracker,
      restartTracker: async () => {
        const again = startTracker()
        cluster.tracker = again
        await again.ready
        return again
      },
      restartServer: async () => {
        const again = startServer()
        cluster.server = again
        await again.ready
        return again
      }
    }
    return [cluster, close]
  } catch (err) {
    await close(true)
    throw err
  }
}

/** Starts a hostile peer (`test/faults/<script>`) with the cluster's job key and server address; its log joins the cluster's. */
export function startFaultPeer (cluster: Cluster, name: string, script: string, args: string[]): RoleProcess {
  return startRole(name, ['--psk', join(cluster.dir, 'swarm.key'), '--server', cluster.serverAddr, ...args], join(cluster.dir, `${name}.log`),
    { script: join(process.cwd(), 'test', 'faults', script), env: { ...process.env, NODE_OPTIONS: '--import tsx' } })
}

/** A TCP port that was free a moment ago (for tools that cannot take port 0). */
export async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => { resolve(typeof addr === 'object' && addr != null ? addr.port : 0) })
    })
  })
}
