import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PhaseBars } from '../../../src/cli/phase-bars.js'
import type { StatusView } from '../../../src/server/admin-api.js'

const client = (clientId: string, state: string, held?: number): StatusView['clients'][number] =>
  ({ clientId, partition: 0, state, round: 3, online: true, backend: 'cpu', lastSeenS: 0, rejected: 0, excluded: false, held })
const status = (clients: StatusView['clients'], accepted: string[]): StatusView => ({
  jobId: 'j', model: 'mlp', dataset: 'mnist', selection: 'random', transfer: 'bt', state: 'round', round: 2, queued: 1, target: 4, results: [], runDir: '', peerId: '', addrs: [],
  current: { round: 3, selected: clients.map(c => c.clientId), accepted, k: 3 },
  clients
})

test('a bar per phase with counts, rate and ETA, redrawn in place; cleared when the round closes', () => {
  const written: string[] = []
  const out = { isTTY: true, write: (s: string) => { written.push(s); return true } } as unknown as NodeJS.WriteStream
  const bars = new PhaseBars(out)
  bars.update(status([client('a', 'downloading', 0.5), client('b', 'downloading', 0), client('c', 'downloading', 0.5)], []), 4, 0)
  bars.update(status([client('a', 'training', 1), client('b', 'downloading', 0.5), client('c', 'uploading', 1)], ['c']), 4, 2000)
  const second = written[1]
  assert.ok(second.startsWith('\x1b[3A'), 'moves up over the three lines it drew')
  assert.match(second, /round 3\/4/)
  assert.match(second, /model held +█+░+ +2\.5\/3 clients {2}0\.75\/s {2}ETA 1 s/)
  assert.match(second, /updates in +█{10}░{20} +1\/3 updates {2}0\.50\/s {2}ETA 4 s/)
  bars.update({ ...status([], []), current: undefined }, 4, 3000)
  assert.ok(written[2].endsWith('\x1b[3A'), 'cleared, the cursor back where the bars began')
})

test('only on a terminal, and not with NO_COLOR', () => {
  const tty = { isTTY: true } as unknown as NodeJS.WriteStream
  assert.ok(PhaseBars.wanted(tty, {}))
  assert.not.ok(PhaseBars.wanted(tty, { NO_COLOR: '1' }))
  assert.not.ok(PhaseBars.wanted({ isTTY: false } as unknown as NodeJS.WriteStream, {}))
})

test.run()
