import type { RoundResult } from '../server/round-result.js'
import { formatBytes, renderTable } from './table.js'

const fix = (v: number | undefined, d: number): string => v === undefined ? '-' : v.toFixed(d)

/** The per-round table `bt-ps up` and `bt-ps round --wait` end with. */
export function resultsTable (results: readonly RoundResult[]): string {
  return renderTable(
    ['round', 'mode', 'upload', 'updates', 'test acc', 'top-5', 'loss', 'distrib s', 'train s', 'upload s', 'aggr s', 'round s', 'server sent', 'server recv', 'model', 'from peers'],
    results.map(r => [
      r.round, r.transfer, r.upload ?? 'direct', r.status === 'aborted' ? 'aborted' : `${r.accepted.length}/${r.selected.length}`,
      fix(r.testAcc1, 4), fix(r.testAcc5, 4), fix(r.testLoss, 4),
      fix(r.distributionS, 2), fix(r.trainingS, 2), fix(r.uploadS, 2), fix(r.aggregationS, 3), fix(r.roundS, 2),
      formatBytes(r.serverEgressBytes), formatBytes(r.serverIngressBytes), formatBytes(r.modelBytes), `${(r.peerShare * 100).toFixed(1)}%`
    ])
  )
}
