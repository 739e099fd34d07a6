import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmulatedNetwork, namespacesUnavailable } from '../../src/bench/netns.js'

const unavailable = namespacesUnavailable()
if (unavailable !== undefined) console.log(`SKIP distribution benchmark smoke run: ${unavailable}`)
const maybe = unavailable === undefined ? test : test.skip

maybe('bench:distribution (N = 2, 4 MiB, jumbo frames): all three modes measured, results written, namespaces removed', () => {
  const out = mkdtempSync(join(tmpdir(), 'btps-bench-smoke-'))
  const prefix = `btpssmoke${process.pid}`
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-distribution.ts', '--clients', '2', '--model-mb', '4', '--link-mbit', '40', '--modes', 'bt,ps,http', '--mtu', '9000', '--out', out, '--name', 'smoke', '--prefix', prefix], { encoding: 'utf8', timeout: 240_000 })
    assert.is(r.status, 0, r.stderr.slice(-2000))
    assert.match(r.stdout, /mode\s+N\s+held\s+model MB\s+T_min s.*TCP resent\s+RTOs/)
    assert.is(r.stdout.split('\n').filter(l => /^(bt|ps|http)\s+2\s+all\s/.test(l)).length, 3, 'every mode: both clients held the model')
    const { machine, results } = JSON.parse(readFileSync(join(out, 'smoke.json'), 'utf8')) as { machine: { mtu: number }, results: Array<{ mode: string, clients: number, tMinS: number, rounds: Array<{ completionS: number[], serverEgressBytes: number, modelBytes: number, tcp: { segments: number, retransmitted: number, timeouts: number } }> }> }
    assert.equal(results.map(x => x.mode), ['bt', 'ps', 'http'])
    assert.is(machine.mtu, 9000, 'the links\' MTU is recorded with the results')
    for (const res of results) {
      const round = res.rounds[0]
      assert.is(round.completionS.length, 2, `${res.mode}: both clients reported`)
      // No client can beat the physical bound (4 MiB over a 40 Mbit/s link is 0.84 s).
      assert.ok(Math.min(...round.completionS) >= res.tMinS * 0.9, `${res.mode}: ${round.completionS.join(', ')} vs T_min ${res.tMinS}`)
      // The hosts' own TCP counters over the round: at least the model's bytes went out in segments of at most 9000.
      assert.ok(round.tcp.segments >= 2 * round.modelBytes / 9000 && round.tcp.retransmitted <= round.tcp.segments, `${res.mode}: ${JSON.stringify(round.tcp)}`)
    }
    assert.is(results[1].rounds[0].serverEgressBytes, 2 * results[1].rounds[0].modelBytes, 'ps: the server sends every copy')
    assert.ok(existsSync(join(out, 'smoke.svg')))
    assert.equal(EmulatedNetwork.existing(prefix), [], 'every namespace removed')
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

maybe('bench:distribution stopped by SIGTERM in the middle of a round removes its processes and namespaces', async () => {
  const out = mkdtempSync(join(tmpdir(), 'btps-bench-stop-'))
  const prefix = `btpsstop${process.pid}`
  try {
    // 4 MiB over 4 Mbit/s links: the round lasts several seconds, long enough to be interrupted.
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench-distribution.ts', '--clients', '2', '--model-mb', '4', '--link-mbit', '4', '--modes', 'bt', '--out', out, '--prefix', prefix], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: out } })
    let stderr = ''
    const exited = new Promise<number | null>(resolve => { child.on('exit', code => { resolve(code) }) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no round started: ${stderr}`)) }, 120_000)
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (/running 1 round/.test(stderr)) { clearTimeout(timer); resolve() } })
    })
    assert.ok(EmulatedNetwork.existing(prefix).length > 0, 'the cluster is up')
    await new Promise(resolve => setTimeout(resolve, 1500))
    child.kill('SIGTERM')
    assert.is(await exited, 130, stderr.slice(-1000))
    assert.equal(EmulatedNetwork.existing(prefix), [], 'every namespace removed')
    // Its processes' command lines name their work dir, which TMPDIR put under `out`.
    const left = spawnSync('pgrep', ['-f', out], { encoding: 'utf8' }).stdout.trim()
    assert.is(left, '', 'no process of the benchmark left')
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test.run()
