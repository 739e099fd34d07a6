import { int, num, record, str } from '../net/validate.js'

/** What a client reports with its update or receipt: how it got the model, how long it trained, what it passed on. */
export interface ClientReport {
  downloadS: number
  computeS: number
  bytesFromServer: number
  bytesFromPeers: number
  bytesUploadedToPeers: number
  /** Model bytes the client held from an earlier round under the same piece hashes, so did not download. */
  bytesReused?: number
  utility: number
  meanLoss: number
  backend: string
  /** Wall-clock ms when the client held the verified model (distribution benchmarks compare it to the announcement). */
  heldAt?: number
}

export function parseReport (v: unknown, f = 'report'): ClientReport {
  const r = record(v, f, ['downloadS', 'computeS', 'bytesFromServer', 'bytesFromPeers', 'bytesUploadedToPeers', 'utility', 'meanLoss', 'backend', 'heldAt', 'bytesReused'])
  const report: ClientReport = {
    downloadS: num(r.downloadS, `${f}.downloadS`, 0, 1e7),
    computeS: num(r.computeS, `${f}.computeS`, 0, 1e7),
    bytesFromServer: int(r.bytesFromServer, `${f}.bytesFromServer`),
    bytesFromPeers: int(r.bytesFromPeers, `${f}.bytesFromPeers`),
    bytesUploadedToPeers: int(r.bytesUploadedToPeers, `${f}.bytesUploadedToPeers`),
    utility: num(r.utility, `${f}.utility`, 0),
    meanLoss: num(r.meanLoss, `${f}.meanLoss`, 0),
    backend: str(r.backend, `${f}.backend`, 64)
  }
  if (r.heldAt !== undefined) report.heldAt = int(r.heldAt, `${f}.heldAt`)
  if (r.bytesReused !== undefined) report.bytesReused = int(r.bytesReused, `${f}.bytesReused`)
  return report
}
