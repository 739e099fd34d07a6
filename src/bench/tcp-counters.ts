import { execFileSync } from 'node:child_process'
import type { EmulatedHost } from './netns.js'

/**
 * A host's TCP counters: segments sent, segments sent again, and retransmission timeouts (a flow that lost so much
 * that no duplicate ACKs came back waits out its RTO, at least 200 ms on Linux, before it sends again).
 */
export interface TcpCounters { segments: number, retransmitted: number, timeouts: number }

export const NO_TCP_COUNTERS: TcpCounters = { segments: 0, retransmitted: 0, timeouts: 0 }

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

/** The counters of every host together, each read in its namespace (a host whose namespace is gone counts 0). */
export function tcpCounters (hosts: readonly EmulatedHost[]): TcpCounters {
  const sum = { ...NO_TCP_COUNTERS }
  for (const h of hosts) {
    let c = NO_TCP_COUNTERS
    try {
      c = parseTcpCounters(execFileSync('ip', ['netns', 'exec', h.namespace, 'cat', '/proc/net/snmp', '/proc/net/netstat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
    } catch { /* gone */ }
    sum.segments += c.segments
    sum.retransmitted += c.retransmitted
    sum.timeouts += c.timeouts
  }
  return sum
}

export function tcpCountersSince (now: TcpCounters, before: TcpCounters): TcpCounters {
  return { segments: now.segments - before.segments, retransmitted: now.retransmitted - before.retransmitted, timeouts: now.timeouts - before.timeouts }
}
