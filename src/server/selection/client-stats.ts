import type { ClientReport } from '../../control/report.js'

/** What the server has learned of one client from the rounds it was selected for. */
export interface ClientRecord {
  /** times selected, and the last round it was */
  selected: number
  lastRound: number
  /** Oort's statistical utility, |B|·sqrt(mean loss²), from its last update (undefined: never contributed) */
  utility?: number
  /** seconds from the announcement until its update or holding was in (download, training, upload); twice the round's length (or its last) if it was not in by the round's end */
  durationS?: number
  /** model bytes it sent to other peers per round it took part in, as a share of the model (moving average) */
  served?: number
}

/** A client not in when its round closed took longer than the round: its duration counts as this many times that. */
export const CUT_FACTOR = 2

/** Per-client history the selection policies read: updated when a round is announced and when it finishes. */
export class ClientStats {
  readonly records = new Map<string, ClientRecord>()

  get (clientId: string): ClientRecord | undefined { return this.records.get(clientId) }

  selected (round: number, clientIds: readonly string[]): void {
    for (const id of clientIds) {
      const r = this.records.get(id) ?? { selected: 0, lastRound: 0 }
      r.selected++
      r.lastRound = round
      this.records.set(id, r)
    }
  }

  /**
   * A round's end: reports of the clients that made it, and when each was in (seconds from the announcement until the
   * server had its update or receipt: download, training and upload, as the server saw them; without it, the
   * download and training it reported). One selected but not in when the round closed counts with twice the
   * round's length (or twice its last duration, if longer).
   */
  finished (selected: readonly string[], reports: ReadonlyMap<string, ClientReport>, modelBytes: number, timing: { inS: ReadonlyMap<string, number>, roundS: number }): void {
    for (const id of selected) {
      const r = this.records.get(id) ?? { selected: 1, lastRound: 0 }
      const rep = reports.get(id)
      if (rep == null) {
        // It took longer than the round, by an unknown amount: counted as twice that, so a client cut round after
        // round falls out of favour instead of looking as fast as the slowest one that made it.
        r.durationS = CUT_FACTOR * Math.max(r.durationS ?? 0, timing.roundS)
      } else {
        r.durationS = timing.inS.get(id) ?? rep.downloadS + rep.computeS
        if (rep.utility > 0) r.utility = rep.utility
        const served = rep.bytesUploadedToPeers / Math.max(1, modelBytes)
        r.served = r.served == null ? served : 0.5 * r.served + 0.5 * served
      }
      this.records.set(id, r)
    }
  }
}
