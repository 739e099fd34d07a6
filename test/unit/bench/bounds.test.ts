import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { directUploadBound, distributionBounds, mbitToBytesPerS, tcpPayloadShare, uploadBound } from '../../../src/bench/bounds.js'
import { cpuVerdict } from '../../../src/bench/cpu.js'
import { lineChart } from '../../../src/bench/svg-chart.js'

test('Kumar-Ross: with equal links the P2P bound stays near F/u while the star bound grows with N', () => {
  const F = 32 * 1048576
  const u = mbitToBytesPerS(20)
  assert.is(u, 2.5e6)
  for (const n of [2, 4, 8, 16]) {
    const { tMin, star } = distributionBounds(F, u, Array(n).fill(u), Array(n).fill(u))
    assert.ok(Math.abs(tMin - F / u) < 1e-9, `N=${n}: T_min = F/u when N·F/(u_s+Σu) is smaller`)
    assert.ok(Math.abs(star - n * F / u) < 1e-9)
  }
  // Fast peers: the server's own upload F/u_s is the bound; a star needs N times that.
  const slow = distributionBounds(100, 1, [10, 10], [1000, 1000])
  assert.is(slow.tMin, 100)
  assert.is(slow.star, 200)
  // Slow peers: the swarm term N·F/(u_s + Σu_i) dominates.
  const b = distributionBounds(1000, 100, [1, 1, 1], [1000, 1000, 1000])
  assert.is(b.tMin, 3000 / 103)
})

test('TCP payload share of a capped link: 95.6% at MTU 1500, 99.3% with jumbo frames', () => {
  // 1448 bytes of payload per 1514 on the wire; a single flow through the bench's tbf measured 2.390 of 2.5 MB/s.
  assert.ok(Math.abs(tcpPayloadShare(1500) - 1448 / 1514) < 1e-12)
  assert.ok(Math.abs(tcpPayloadShare(1500) - 2.390 / 2.5) < 0.001)
  assert.ok(Math.abs(tcpPayloadShare(9000) - 2.4815 / 2.5) < 0.001)
  assert.ok(tcpPayloadShare(576) < tcpPayloadShare(1500) && tcpPayloadShare(1500) < tcpPayloadShare(9000))
})

test('upload bound: F over the slower of the server downlink and the slowest client uplink, whatever N is', () => {
  const F = 32 * 1048576
  const B = mbitToBytesPerS(20)
  for (const n of [2, 4, 8, 16]) {
    assert.is(uploadBound(F, B, Array(n).fill(B)), F / B, `N=${n}: equal links give F/B`)
    // A star of direct uploads needs N copies through the server's downlink.
    assert.is(directUploadBound(F, B, Array(n).fill(B)), n * F / B)
  }
  // A fast server: the slowest client's uplink is the limit, for both.
  assert.is(uploadBound(1000, 1e6, [100, 10, 50]), 100)
  assert.is(directUploadBound(1000, 1e6, [100, 10, 50]), 100)
  // A slow server: its downlink is the limit.
  assert.is(uploadBound(1000, 5, [100, 100]), 200)
  assert.is(directUploadBound(1000, 5, [100, 100]), 400)
})

test('CPU verdict flags a busy machine or a saturated process', () => {
  assert.is(cpuVerdict(0.9, [0.3]).limited, true)
  assert.is(cpuVerdict(0.5, [0.95]).limited, true)
  assert.is(cpuVerdict(0.5, [0.4, 0.2]).limited, false)
})

test('the chart is standalone SVG with one line per series and a legend', () => {
  const svg = lineChart({ title: 'T', xLabel: 'clients', yLabel: 's', series: [{ name: 'bt', color: '#00f', points: [[2, 1], [4, 1.2]] }, { name: 'bound', color: '#0f0', dashed: true, points: [[2, 1], [4, 1]] }] })
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  assert.is((svg.match(/<path /g) ?? []).length, 2)
  assert.match(svg, />bt</)
  assert.match(svg, /stroke-dasharray/)
})

test('a time series of 60 samples gets a few round x labels, not one per sample', () => {
  const points = Array.from({ length: 61 }, (_, i): [number, number] => [i * 5.0013 + 0.007, 200 + i])
  const svg = lineChart({ title: 'soak', xLabel: 'seconds', yLabel: 'MB', series: [{ name: 'server', color: '#00f', points }] })
  const xLabels = [...svg.matchAll(/text-anchor="middle">([\d.]+)<\/text>/g)].map(m => m[1])
  assert.ok(xLabels.length >= 4 && xLabels.length <= 12, `${xLabels.length} x labels`)
  assert.ok(xLabels.every(l => /^\d+$/.test(l) && Number(l) % 10 === 0), xLabels.join(' '))
})

test.run()
