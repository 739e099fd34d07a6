/** What one finished round reports: the per-round table, the admin API and TensorBoard all read this. */
export interface RoundResult {
  round: number
  transfer: 'bt' | 'ps'
  /** How updates came back: each straight to the server, or reduced among the clients (`job.upload`). */
  upload?: 'direct' | 'swarm'
  selected: string[]
  accepted: string[]
  /** `distributed`: a distribution-only round (task: distribute); `aborted`: stopped by the operator, model unchanged. */
  status: 'aggregated' | 'distributed' | 'failed' | 'aborted'
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
  /** Upload phase: the first update (or contribution) reaching the server until the aggregate was complete. */
  uploadS?: number
  /** Contributors dropped after the commit (missing or invalid shards), and why. */
  dropped?: string[]
  /** Share of model bytes clients got from other clients rather than from the server. */
  peerShare: number
  /** Model bytes clients got from other clients. */
  peerBytes: number
  /** Model bytes clients already held from earlier rounds (pieces with unchanged hashes), so did not download. */
  reusedBytes?: number
  /** Per accepted client: seconds from the announcement until it held the verified model (when it reported it). */
  completionS: number[]
  testAcc1?: number
  testAcc5?: number
  testLoss?: number
  startedAt: number
  announcedAt: number
  finishedAt: number
}
