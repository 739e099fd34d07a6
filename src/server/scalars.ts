import type { RoundResult } from './round-result.js'

const GB = 1e9

/** TensorBoard scalars of one round, under the prototype's names (so existing dashboards work) plus bt-ps's own. */
export function roundScalars (r: RoundResult): Record<string, number | undefined> {
  return {
    test_acc_1: r.testAcc1,
    test_acc_5: r.testAcc5,
    test_loss: r.testLoss,
    distribution: r.distributionS,
    calculation: r.trainingS,
    aggregation: r.aggregationS,
    epoch_time: r.roundS,
    'network_bytes_sent (GB)': r.serverEgressBytes / GB,
    'network_bytes_recv (GB)': r.serverIngressBytes / GB,
    server_egress_bytes: r.serverEgressBytes,
    server_ingress_bytes: r.serverIngressBytes,
    upload: r.uploadS,
    peer_piece_share: r.peerShare,
    updates_accepted: r.accepted.length
  }
}
