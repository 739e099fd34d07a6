import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { EmulatedNetwork, namespacesUnavailable } from '../../src/bench/netns.js'
import { BT_PS_BIN, startRole, stopRole } from '../../src/cli/child-process.js'
import type { RoleProcess } from '../../src/cli/child-process.js'
import type { RoundResult } from '../../src/server/round-result.js'
import { loadPsk } from '../../src/net/psk.js'
import { until } from '../e2e/cluster.js'

const execFileAsync = promisify(execFile)
const unavailable = namespacesUnavailable()
if (unavailable !== undefined) console.log(`SKIP straggler test: ${unavailable}`)
const maybe = unavailable === undefined ? test : test.skip

const DEADLINE_S = 20

// Every peer on a host of its own (a network namespace), links capped with tc. The straggler's 0.1 Mbit/s link
// needs ~33 s for the 0.4 MB model: it cannot finish inside the 20 s deadline.
maybe('slow links and a straggler: a round ends with the first K updates, or at its deadline with those it has', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-straggler-'))
  const net = new EmulatedNetwork(`btpsstrag${process.pid}`)
  const procs: RoleProcess[] = []
  let failed = true
  try {
    net.start()
    const trackerHost = net.addHost('tracker', 0, 0)
    const serverHost = net.addHost('server', 50, 50)
    const links = { 'client-1': 20, 'client-2': 20, 'client-3': 8, straggler: 0.1 }
    const clientHosts = Object.entries(links).map(([name, mbit]) => net.addHost(name, mbit, mbit))
    const psk = join(dir, 'swarm.key')
    loadPsk(psk, { create: true })
    const job = ['--job', 'slow', '--model', 'mlp', '--hidden-units', '128', '--clients', '4', '--k', '3', '--over-commitment', '1.33', '--round-timeout', String(DEADLINE_S),
      '--job.psk_file', psk, '--log-level', 'info']
    const start = (name: string, args: string[], host: typeof trackerHost): RoleProcess => {
      const p = startRole(name, args, join(dir, `${name}.log`), { wrap: net.wrap(host) })
      procs.push(p)
      return p
    }
    await start('tracker', ['tracker', '--host', trackerHost.address, '--port', '6969', '--announce-interval', '2', '--job.psk_file', psk], trackerHost).ready
    const tracker = `udp://${trackerHost.address}:6969`
    const server = start('server', ['server', ...job, '--tracker', tracker, '--host', serverHost.address, '--p2p-port', '7000', '--admin-host', '127.0.0.1', '--admin-port', '8080',
      '--runs-dir', join(dir, 'runs'), '--checkpoint-dir', join(dir, 'ckpt'), '--server.selection_wait_s', '2'], serverHost)
    const tokenFile = String((await server.ready).adminTokenFile)
    const clients = new Map(clientHosts.map(h => [h.name, start(h.name, ['client', ...job, '--tracker', tracker, '--server', `${serverHost.address}:7000`, '--host', h.address, '--id', h.name], h)]))
    await Promise.all([...clients.values()].map(async c => await c.ready))
    // The admin API listens on 127.0.0.1 inside the server's namespace: the CLI runs there, as an operator's would.
    const cli = async (...args: string[]): Promise<string> => {
      const [cmd, ...pre] = net.wrap(serverHost)
      return (await execFileAsync(cmd, [...pre, process.execPath, BT_PS_BIN, ...args, '--server', 'http://127.0.0.1:8080', '--token-file', tokenFile], { encoding: 'utf8', timeout: 30_000 })).stdout
    }
    const status = async (): Promise<{ clients: Array<{ clientId: string, online: boolean }>, results: RoundResult[] }> => JSON.parse(await cli('status', '--json'))
    await until('4 clients online', async () => (await status()).clients.filter(c => c.online).length === 4 ? true : undefined, 30_000)

    await cli('round', '--rounds', '1')
    const r1 = await until('round 1 done', async () => (await status()).results.find(r => r.round === 1), 60_000)
    const r1S = (r1.finishedAt - r1.announcedAt) / 1000
    assert.equal([...r1.selected].sort(), ['client-1', 'client-2', 'client-3', 'straggler'], 'all four selected (K = 3, over-commitment 1.33)')
    assert.equal([...r1.accepted].sort(), ['client-1', 'client-2', 'client-3'], 'the first K updates, the straggler\'s not among them')
    assert.is(r1.reason, '3 updates')
    assert.ok(r1S < DEADLINE_S, `round 1 took ${r1S.toFixed(1)} s: it did not wait for the straggler`)
    assert.is(r1.status, 'aggregated')

    // With a fast client gone, the straggler is needed for K: the round runs to its deadline and aggregates what came.
    const gone = clients.get('client-1')!
    await stopRole(gone, 0)
    await until('client-1 offline', async () => (await status()).clients.find(c => c.clientId === 'client-1')?.online === false ? true : undefined, 30_000)
    await cli('round', '--rounds', '1')
    const r2 = await until('round 2 done', async () => (await status()).results.find(r => r.round === 2), 90_000)
    const r2S = (r2.finishedAt - r2.announcedAt) / 1000
    assert.equal([...r2.selected].sort(), ['client-2', 'client-3', 'straggler'])
    assert.equal([...r2.accepted].sort(), ['client-2', 'client-3'])
    assert.is(r2.reason, 'deadline passed with 2 of 3 updates')
    assert.ok(r2S >= DEADLINE_S - 1 && r2S < DEADLINE_S + 5, `round 2 ended ${r2S.toFixed(1)} s after its announcement, deadline ${DEADLINE_S} s`)
    assert.is(r2.status, 'aggregated')
    assert.ok(r2.testAcc1 != null && r1.testAcc1 != null && r2.testAcc1 > 0.5, `the model still learns: ${String(r1.testAcc1)} → ${String(r2.testAcc1)}`)
    const straggler = readFileSync(join(dir, 'straggler.log'), 'utf8')
    assert.match(straggler, /round abandoned .*round=1/, 'the round end stopped the straggler\'s download of round 1')
    console.log(`straggler: round 1 ended after ${r1S.toFixed(1)} s with ${r1.accepted.join(', ')}; round 2 after ${r2S.toFixed(1)} s (deadline ${DEADLINE_S} s) with ${r2.accepted.join(', ')}; accuracy ${String(r1.testAcc1)} → ${String(r2.testAcc1)}`)
    failed = false
  } finally {
    for (const p of procs.reverse()) await stopRole(p)
    net.stop()
    if (failed) for (const f of readdirSync(dir).filter(n => n.endsWith('.log'))) console.error(`--- ${f}\n${readFileSync(join(dir, f), 'utf8').split('\n').filter(l => !l.startsWith('Warning')).slice(-12).join('\n')}`)
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
