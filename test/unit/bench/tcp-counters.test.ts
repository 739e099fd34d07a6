import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { parseTcpCounters, tcpCountersSince } from '../../../src/bench/tcp-counters.js'

const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 5729610
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 40 30 0 2 12 90000 123193 15186 0 5 0
Udp: InDatagrams NoPorts
Udp: 10 0
`
const NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv TCPTimeouts TCPLossProbes
TcpExt: 0 0 3001 77
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
`

test('segments sent, sent again and retransmission timeouts come from the Tcp and TcpExt lines', () => {
  assert.equal(parseTcpCounters(SNMP + NETSTAT), { segments: 123193, retransmitted: 15186, timeouts: 3001 })
  assert.equal(parseTcpCounters(SNMP), { segments: 123193, retransmitted: 15186, timeouts: 0 }, 'no netstat: no timeouts counted')
  assert.equal(tcpCountersSince({ segments: 10, retransmitted: 4, timeouts: 2 }, { segments: 4, retransmitted: 1, timeouts: 2 }), { segments: 6, retransmitted: 3, timeouts: 0 })
})

test('this machine\'s own counters parse to numbers', () => {
  const c = parseTcpCounters(readFileSync('/proc/net/snmp', 'utf8') + readFileSync('/proc/net/netstat', 'utf8'))
  for (const v of Object.values(c)) assert.ok(Number.isInteger(v) && v >= 0, JSON.stringify(c))
})

test.run()
