/**
 * What the emulated-cluster benchmarks (scripts/bench-distribution.ts, scripts/bench-round.ts) share: a session
 * that owns a work dir, the emulated network and every process started in it, and tears them down once, whoever
 * asks (a signal, a failure, the normal end); a job's tracker, server and clients started in their namespaces;
 * rounds triggered with `bt-ps round` and read back with `bt-ps status --json`, with the CPU used meanwhile.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startRole, stopRole, BT_PS_BIN } from '../cli/child-process.js'
import type { RoleProcess } from '../cli/child-process.js'
import type { RoundResult } from '../server/round-result.js'
import { cpuVerdict, machineCpu, processCpuSeconds } from './cpu.js'
import { EmulatedNetwork } from './netns.js'
import type { EmulatedHost } from './netns.js'

export interface ClusterHosts { tracker: EmulatedHost, server: EmulatedHost, clients: EmulatedHost[] }

/** A job's hosts all on this machine's loopback, links uncapped (for startJob without a network). */
export function loopbackHosts (clients: number): ClusterHosts {
  const host = (name: string): EmulatedHost => ({ name, namespace: '', address: '127.0.0.1', upMbit: 0, downMbit: 0 })
  return { tracker: host('tracker'), server: host('server'), clients: Array.from({ length: clients }, (_v, i) => host(`client-${i + 1}`)) }
}

export interface Measured<T> {
  value: T
  /** CPU seconds (user + system) of each process over the window. */
  cpuSeconds: Record<string, number>
  /** Share of the machine's CPU time that was busy over the window. */
  machineBusy: number
  wallS: number
  cpu: ReturnType<typeof cpuVerdict>
}

/** CPU seconds of each process and the machine's busy share over `fn`. */
export async function measured<T> (procs: RoleProcess[], fn: () => Promise<T>): Promise<Measured<T>> {
  const before = new Map(procs.map(p => [p.name, processCpuSeconds(p.child.pid ?? 0)]))
  const m0 = machineCpu()
  const t0 = performance.now()
  const value = await fn()
  const wallS = (performance.now() - t0) / 1000
  const m1 = machineCpu()
  const cpuSeconds = Object.fromEntries(procs.map(p => [p.name, processCpuSeconds(p.child.pid ?? 0) - (before.get(p.name) ?? 0)]))
  const machineBusy = (m1.busy - m0.busy) / Math.max(1e-9, m1.total - m0.total)
  return { value, cpuSeconds, machineBusy, wallS, cpu: cpuVerdict(machineBusy, Object.values(cpuSeconds).map(s => s / wallS)) }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** A bt-ps job running on an emulated cluster, its admin API on the server's 127.0.0.1:8080. */
export interface BenchJob {
  tracker: RoleProcess
  server: RoleProcess
  clients: RoleProcess[]
  /** `bt-ps <args>` in the server's namespace; its stdout. Async, so a signal to the benchmark is handled meanwhile. */
  cli: (args: string[]) => Promise<string>
  /** One round (`bt-ps round --wait`), measured over the server and clients; its RoundResult. Throws when it failed. */
  round: () => Promise<Measured<RoundResult>>
  /** Stops the job's processes (they are no longer the session's to stop). */
  stop: () => Promise<void>
}

const ADMIN = 'http://127.0.0.1:8080'
const execFileAsync = promisify(execFile)

export class BenchSession {
  /** Process logs and run dirs; removed by cleanup() unless `keepLogs`. */
  readonly work: string
  /** Keep `work` at the end: set when a run failed or a round ended without every client. */
  keepLogs = false
  private network: EmulatedNetwork | undefined
  private running: RoleProcess[] = []
  private cleaning: Promise<void> | undefined
  /** Ends `bt-ps round|status` calls in flight: a waiting `round --wait` would outlive the server it waits for. */
  private readonly cliCalls = new AbortController()
  private readonly log: (line: string) => void

  constructor (init: { log: (line: string) => void, workPrefix?: string }) {
    this.log = init.log
    this.work = mkdtempSync(join(tmpdir(), init.workPrefix ?? 'btps-bench-'))
  }

  /** SIGINT/SIGTERM remove the emulated cluster and exit with 130. */
  exitOnSignals (): void {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => { this.log(`\n${sig}: removing the emulated cluster`); void this.cleanup().finally(() => process.exit(130)) })
    }
  }

  /**
   * A namespace per host (tracker uncapped, server at `serverMbit`, N clients at `linkMbit`, both ways), removed by
   * closeCluster() or cleanup(). The hosts use TCP congestion control `congestionControl` ('system': the machine's)
   * and links of `mtu` bytes.
   */
  openCluster (prefix: string, clients: number, linkMbit: number, serverMbit: number, congestionControl: string, mtu = 1500): { network: EmulatedNetwork, hosts: ClusterHosts } {
    const network = new EmulatedNetwork(prefix, congestionControl, mtu)
    this.network = network
    network.start()
    const tracker = network.addHost('tracker', 0, 0)
    const server = network.addHost('server', serverMbit, serverMbit)
    const hosts = Array.from({ length: clients }, (_v, i) => network.addHost(`client-${i + 1}`, linkMbit, linkMbit))
    return { network, hosts: { tracker, server, clients: hosts } }
  }

  closeCluster (): void {
    this.network?.stop()
    this.network = undefined
  }

  /** Processes for cleanup() to stop. */
  started (...procs: RoleProcess[]): void {
    this.running.push(...procs)
  }

  /** The processes started so far have been stopped by their owner. */
  stoppedAll (): void {
    this.running = []
  }

  /** Stops every process and removes the emulated cluster; every caller (signal, failure, normal end) awaits the same run. */
  async cleanup (): Promise<void> {
    this.cleaning ??= (async () => {
      try {
        this.cliCalls.abort()
        await Promise.allSettled(this.running.map(async p => { await stopRole(p, 5000) }))
        this.running = []
      } finally {
        this.network?.stop()
        if (this.keepLogs) this.log(`process logs kept in ${this.work}`)
        else rmSync(this.work, { recursive: true, force: true })
      }
    })()
    await this.cleaning
  }

  /**
   * Starts a tracker, a server and one client per client host, each in its namespace with `jobFlags` (the same
   * job for all), logs in `logDir`; resolves when all are ready. Without `net`, every host is this machine's
   * loopback (hosts from loopbackHosts()).
   */
  async startJob (hosts: ClusterHosts, net: EmulatedNetwork | undefined, logDir: string, jobFlags: string[]): Promise<BenchJob> {
    const wrap = (h: EmulatedHost): string[] => net?.wrap(h) ?? []
    // The tracker and the server stand for hosts of their own. With dozens of clients on a couple of cores, at equal
    // priority the server got a sixty-sixth of the CPU when a round began (N = 64: nothing logged for 11 s, every
    // client's handshake timed out); first call on the CPU keeps them answering as their own hosts would.
    const own = (h: EmulatedHost): string[] => net != null ? [...wrap(h), 'nice', '-n', '-10'] : []
    const tracker = startRole('tracker', ['tracker', '--host', hosts.tracker.address, '--port', '6969', '--announce-interval', '1'], join(logDir, 'tracker.log'), { wrap: own(hosts.tracker) })
    this.started(tracker)
    await tracker.ready
    const trackerUrl = `udp://${hosts.tracker.address}:6969`
    const server = startRole('server', ['server', ...jobFlags, '--tracker', trackerUrl, '--host', hosts.server.address, '--p2p-port', '7000', '--admin-host', '127.0.0.1', '--admin-port', '8080', '--runs-dir', join(logDir, 'runs'), '--checkpoint-dir', join(logDir, 'ckpt')], join(logDir, 'server.log'), { wrap: own(hosts.server) })
    this.started(server)
    const tokenFile = String((await server.ready).adminTokenFile)
    const clients = hosts.clients.map((h, i) => startRole(`client-${i + 1}`, ['client', ...jobFlags, '--tracker', trackerUrl, '--server', `${hosts.server.address}:7000`, '--host', h.address, '--id', `client-${i + 1}`], join(logDir, `client-${i + 1}.log`), { wrap: wrap(h) }))
    this.started(...clients)
    await Promise.all(clients.map(async c => await c.ready))
    const cli = async (args: string[]): Promise<string> => {
      const [cmd, ...pre] = [...wrap(hosts.server), process.execPath]
      try {
        return (await execFileAsync(cmd, [...pre, BT_PS_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, signal: this.cliCalls.signal })).stdout
      } catch (err) {
        const e = err as { stderr?: string, stdout?: string }
        throw new Error(`bt-ps ${args[0]} failed: ${e.stderr ?? ''}${e.stdout ?? String(err)}`)
      }
    }
    const round = async (): Promise<Measured<RoundResult>> => {
      const m = await measured([server, ...clients], async () => { await cli(['round', '--server', ADMIN, '--token-file', tokenFile, '--rounds', '1', '--wait']) })
      const status = JSON.parse(await cli(['status', '--server', ADMIN, '--token-file', tokenFile, '--json'])) as { results: RoundResult[] }
      const res = status.results.at(-1)
      if (res == null || res.status === 'failed') throw new Error(`round failed: ${res?.reason ?? 'no result'}`)
      return { ...m, value: res }
    }
    const stop = async (): Promise<void> => {
      for (const p of [...clients, server, tracker].reverse()) await stopRole(p)
      this.stoppedAll()
    }
    return { tracker, server, clients, cli, round, stop }
  }
}
