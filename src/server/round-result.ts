/** What one finished round reports: the per-round table, the admin API and TensorBoard all read this. */
export interface RoundResult {
  round: number
  transfer: 'bt' | 'ps'
  selected: string[]
  accepted: string[]
  status: 'aggregated' | 'failed'
  reason?: string
  modelBytes: number
  /** Announcement until the last accepted client held the verified model. */
  distributionS: number
  /** Slowest accepted client's local training. */
  trainingS: number
  aggregationS: number
  roundS: number
  /** Model bytes the server sent (swarm or direct streams) this round. */
  serverEgressBytes: number
  /** Update bytes the server received this round. */
  serverIngressBytes: number
  /** Share of model bytes clients got from other clients rather than from the server. */
  peerShare: number
  testAcc1?: number
  testAcc5?: number
  testLoss?: number
  startedAt: number
  finishedAt: number
}
