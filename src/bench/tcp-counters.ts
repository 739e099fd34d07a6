import { execFileSync } from 'node:child_process'
import type { EmulatedNetwork } from './netns.js'

/**
 * A host's TCP counters: segments sent, segments sent again, and retransmission timeouts (a flow that lost so much
 * that no duplicate ACKs came back waits out its RTO, at least 200 ms on Linux, before it sends again).
 */
export interface TcpCounters { segments: number, retransmitted: number, timeouts: number }

const NO_TCP_COUNTERS: TcpCounters = { segments: 0, retransmitted: 0, timeouts: 0 }

/** `a` plus `sign` times `b`, counter by counter. */
function combine (a: TcpCounters, b: TcpCounters, sign: 1 | -1): TcpCounters {
  return { segments: a.segments + sign * b.segments, retransmitted: a.retransmitted + sign * b.retransmitted, timeouts: a.timeouts + sign * b.timeouts }
}

/** The `Tcp:` / `TcpExt:` pairs of header and value lines in /proc/net/snmp and /proc/net/netstat, by name. */
function fields (text: string, prefix: string): Map<string, number> {
  const lines = text.split('\n').filter(l => l.startsWith(`${prefix}: `))
  const out = new Map<string, number>()
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].split(/\s+/).slice(1)
    const values = lines[i + 1].split(/\s+/).slice(1)
    names.forEach((n, k) => { out.set(n, Number(values[k])) })
  }
  return out
}

/** Reads the counters from the text of /proc/net/snmp followed by /proc/net/netstat; a counter not there reads 0. */
export function parseTcpCounters (text: string): TcpCounters {
  const tcp = fields(text, 'Tcp')
  const ext = fields(text, 'TcpExt')
  const n = (v: number | undefined): number => Number.isFinite(v) ? v! : 0
  return { segments: n(tcp.get('OutSegs')), retransmitted: n(tcp.get('RetransSegs')), timeouts: n(ext.get('TCPTimeouts')) }
}

/** The counters of every host of `net` together, each read on its host (a host whose namespace is gone counts 0). */
export function tcpCounters (net: EmulatedNetwork): TcpCounters {
  let sum = NO_TCP_COUNTERS
  for (const h of net.hosts) {
    const [cmd, ...args] = [...net.wrap(h), 'cat', '/proc/net/snmp', '/proc/net/netstat']
    try {
      sum = combine(sum, parseTcpCounters(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })), 1)
    } catch { /* gone */ }
  }
  return sum
}

export function tcpCountersSince (now: TcpCounters, before: TcpCounters): TcpCounters {
  return combine(now, before, -1)
}
