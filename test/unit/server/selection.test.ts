import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientStats } from '../../../src/server/selection/client-stats.js'
import { createSelection } from '../../../src/server/selection/create-selection.js'
import { createRng, shuffleInPlace } from '../../../src/training/rng.js'
import { silentLogger } from '../../../src/logger.js'
import type { ClientReport } from '../../../src/control/report.js'

const ids = Array.from({ length: 40 }, (_v, i) => `c${String(i).padStart(2, '0')}`)
const report = (r: Partial<ClientReport>): ClientReport => ({ downloadS: 1, computeS: 1, bytesFromServer: 0, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 0, meanLoss: 0, backend: 'cpu', ...r })

test('random: the seeded shuffle the server always used; every decision has a reason', () => {
  const s = createSelection('random', new ClientStats(), silentLogger()).select(3, ids, 8, createRng(42))
  assert.equal(s.selected, shuffleInPlace([...ids].sort(), createRng(42)).slice(0, 8))
  assert.is(s.decisions.length, 40)
  assert.is(s.decisions.filter(d => d.selected).length, 8)
})

/** A population where client i has utility 100 + i and takes 10 s, except every fifth, which takes 60 s. */
function simulate (policy: 'oort' | 'contribution', rounds: number): { stats: ClientStats, picks: Map<string, number>, last: ReturnType<ReturnType<typeof createSelection>['select']> } {
  const stats = new ClientStats()
  const sel = createSelection(policy, stats, silentLogger())
  const picks = new Map<string, number>()
  let last!: ReturnType<typeof sel.select>
  for (let round = 1; round <= rounds; round++) {
    last = sel.select(round, ids, 8, createRng(round))
    stats.selected(round, last.selected)
    const reports = new Map(last.selected.map(id => {
      const i = Number(id.slice(1))
      return [id, report({ utility: 100 + i, computeS: i % 5 === 0 ? 59 : 9, bytesUploadedToPeers: i < 10 ? 3e6 : 1e5 })]
    }))
    stats.finished(last.selected, reports, 1e6, { inS: new Map(), roundS: 120 })
    sel.finished?.(round, last.selected)
    for (const id of last.selected) picks.set(id, (picks.get(id) ?? 0) + 1)
  }
  return { stats, picks, last }
}

test('oort: explores every client early, then favours high utility and penalises the slow; blacklists the over-picked', () => {
  const early = simulate('oort', 5)
  assert.ok(early.picks.size >= 30, `${early.picks.size} of 40 clients tried in 5 rounds`)
  const { picks, last } = simulate('oort', 60)
  const fastHigh = ids.filter(id => Number(id.slice(1)) >= 30 && Number(id.slice(1)) % 5 !== 0)
  const slow = ids.filter(id => Number(id.slice(1)) % 5 === 0)
  const mean = (xs: string[]): number => xs.reduce((a, id) => a + (picks.get(id) ?? 0), 0) / xs.length
  console.log(`  oort: fast high-utility ${mean(fastHigh).toFixed(1)}, slow ${mean(slow).toFixed(1)} picks in 60 rounds`)
  assert.ok(mean(fastHigh) > 2 * mean(slow), `fast, high-utility clients picked ${mean(fastHigh).toFixed(1)} times on average, slow ones ${mean(slow).toFixed(1)}`)
  assert.ok(last.decisions.some(d => /^blacklisted: selected \d+ times$/.test(d.reason)), 'some clients blacklisted after 10 picks')
  const exploited = last.decisions.find(d => d.selected && d.reason.startsWith('exploit'))
  assert.match(exploited?.reason ?? '', /^exploit: score [\d.]+ = (utility [\d.]+ \+ staleness [\d.]+|\(utility [\d.]+ \+ staleness [\d.]+\) × speed [\d.]+)$/)
  assert.ok(last.decisions.some(d => /× speed 0\.\d+/.test(d.reason)), 'slow clients carry their speed penalty')
  assert.is(last.selected.length, 8)
})

test('contribution: favours clients that upload most to their peers', () => {
  const { picks } = simulate('contribution', 60)
  const seeders = ids.filter(id => Number(id.slice(1)) < 10)
  const others = ids.filter(id => Number(id.slice(1)) >= 10)
  const mean = (xs: string[]): number => xs.reduce((a, id) => a + (picks.get(id) ?? 0), 0) / xs.length
  console.log(`  contribution: seeders ${mean(seeders).toFixed(1)}, others ${mean(others).toFixed(1)} picks in 60 rounds`)
  assert.ok(mean(seeders) > 2 * mean(others), `seeders picked ${mean(seeders).toFixed(1)} times on average, others ${mean(others).toFixed(1)}`)
})

test('durations: when the server had the update (upload included); a client not in by the round\'s end counts as explored, with twice the round\'s length, doubling when cut again', () => {
  const stats = new ClientStats()
  stats.selected(1, ['a', 'b', 'c'])
  stats.finished(['a', 'b', 'c'], new Map([['a', report({ utility: 5 })], ['c', report({ utility: 2 })]]), 1e6, { inS: new Map([['a', 3.5]]), roundS: 42 })
  assert.equal([stats.get('a')?.durationS, stats.get('b')?.durationS, stats.get('b')?.utility, stats.get('c')?.durationS], [3.5, 84, undefined, 2])
  stats.finished(['b'], new Map(), 1e6, { inS: new Map(), roundS: 10 })
  assert.is(stats.get('b')?.durationS, 168)
})

test.run()
