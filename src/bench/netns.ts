import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { BtpsError } from '../errors.js'

export interface EmulatedHost { name: string, namespace: string, address: string, upMbit: number, downMbit: number }

/** The TCP congestion control the emulated hosts use: Linux's default unless asked otherwise ('system': the machine's). */
export const DEFAULT_CONGESTION_CONTROL = 'cubic'

const SUBNET = '10.213.0'

function ip (args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function tbf (ns: string, dev: string, mbit: number): void {
  // A token bucket per direction; the burst is ~10 ms of traffic (at least 32 KiB) so short bursts do not beat the rate.
  const burst = Math.max(32 * 1024, Math.round(mbit * 1e6 / 8 * 0.01))
  ip(['netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(burst), 'latency', '20ms'])
}

/** Why `name` cannot be the emulated hosts' congestion control here, or undefined when it can. */
export function congestionControlUnavailable (name: string): string | undefined {
  if (name === 'system') return undefined
  let available: string[]
  try {
    available = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/)
  } catch {
    return 'this kernel does not list its TCP congestion controls'
  }
  return available.includes(name) ? undefined : `TCP congestion control ${JSON.stringify(name)} is not available here (${available.join(', ')})`
}

/** Whether this process may create network namespaces (root, iproute2, tc with tbf). The reason when not. */
export function namespacesUnavailable (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces'
  const probe = `btps-probe-${process.pid}`
  try {
    ip(['netns', 'add', probe])
    ip(['netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '10mbit', 'burst', '32kb', 'latency', '50ms'])
    return undefined
  } catch (err) {
    return `cannot create a network namespace with tc: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`
  } finally {
    try { ip(['netns', 'del', probe]) } catch { /* it was never made */ }
  }
}

/**
 * Emulated hosts on one machine: one network namespace per host, each with one veth link to a bridge that lives
 * in a namespace of its own (nothing touches the machine's own network). Every link is capped with tbf in both
 * directions: the host's upload on its side, its download on the bridge side.
 *
 * Every host's route to the others names a TCP congestion control (cubic unless told otherwise), so that the links
 * behave like Linux hosts' by default whatever this machine's own default is: BBR v1 (some machines' default) keeps
 * overrunning these shallow queues when many flows share a link, and retransmits eat the links' capacity.
 */
export class EmulatedNetwork {
  readonly prefix: string
  readonly hosts: EmulatedHost[] = []
  private readonly namespaces: string[] = []
  private readonly congestionControl: string
  private readonly mtu: number

  /**
   * `mtu`: the links' MTU (1500, Ethernet's; 9000 for the jumbo frames of many cluster networks, which take a sixth
   * of the packets, and so of the kernel's per-packet work, for the same bytes).
   */
  constructor (prefix = `btps${process.pid}`, congestionControl = DEFAULT_CONGESTION_CONTROL, mtu = 1500) {
    this.prefix = prefix
    this.congestionControl = congestionControl
    this.mtu = mtu
  }

  private get bridgeNs (): string { return `${this.prefix}-net` }

  start (): void {
    ip(['netns', 'add', this.bridgeNs])
    this.namespaces.push(this.bridgeNs)
    ip(['netns', 'exec', this.bridgeNs, 'ip', 'link', 'add', 'br0', 'type', 'bridge'])
    ip(['netns', 'exec', this.bridgeNs, 'ip', 'link', 'set', 'br0', 'mtu', String(this.mtu), 'up'])
    ip(['netns', 'exec', this.bridgeNs, 'ip', 'link', 'set', 'lo', 'up'])
  }

  /** Adds a host with `upMbit`/`downMbit` links; addresses are 10.213.0.<n> inside these namespaces only. */
  addHost (name: string, upMbit: number, downMbit: number): EmulatedHost {
    const n = this.hosts.length + 1
    if (n > 250) throw new BtpsError('BENCH_TOO_MANY_HOSTS', 'at most 250 emulated hosts')
    const ns = `${this.prefix}-h${n}`
    ip(['netns', 'add', ns])
    this.namespaces.push(ns)
    const inBridge = ['netns', 'exec', this.bridgeNs]
    ip([...inBridge, 'ip', 'link', 'add', `v${n}`, 'type', 'veth', 'peer', 'name', `e${n}`])
    ip([...inBridge, 'ip', 'link', 'set', `e${n}`, 'netns', ns])
    ip([...inBridge, 'ip', 'link', 'set', `v${n}`, 'master', 'br0'])
    ip([...inBridge, 'ip', 'link', 'set', `v${n}`, 'mtu', String(this.mtu), 'up'])
    const inHost = ['netns', 'exec', ns]
    ip([...inHost, 'ip', 'link', 'set', `e${n}`, 'name', 'eth0'])
    ip([...inHost, 'ip', 'addr', 'add', `${SUBNET}.${n}/24`, 'dev', 'eth0'])
    ip([...inHost, 'ip', 'link', 'set', 'eth0', 'mtu', String(this.mtu), 'up'])
    ip([...inHost, 'ip', 'link', 'set', 'lo', 'up'])
    // A route attribute rather than the namespace's sysctl, which containers often may not write.
    if (this.congestionControl !== 'system') ip([...inHost, 'ip', 'route', 'replace', `${SUBNET}.0/24`, 'dev', 'eth0', 'proto', 'kernel', 'scope', 'link', 'src', `${SUBNET}.${n}`, 'congctl', this.congestionControl])
    if (upMbit > 0) tbf(ns, 'eth0', upMbit)
    if (downMbit > 0) tbf(this.bridgeNs, `v${n}`, downMbit)
    const host = { name, namespace: ns, address: `${SUBNET}.${n}`, upMbit, downMbit }
    this.hosts.push(host)
    return host
  }

  /** Command prefix that runs a program on `host`. */
  wrap (host: EmulatedHost): string[] {
    return ['ip', 'netns', 'exec', host.namespace]
  }

  /** Deletes every namespace it made (their links go with them). Safe to call twice. */
  stop (): void {
    for (const ns of this.namespaces.splice(0).reverse()) {
      try { ip(['netns', 'del', ns]) } catch { /* already gone */ }
    }
    this.hosts.length = 0
  }

  /** Namespaces of this network that still exist (empty after stop). */
  static existing (prefix: string): string[] {
    const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    return out.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(`${prefix}-`))
  }
}
