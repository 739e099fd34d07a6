import type { RoundResult } from './round-result.js'

/** What the server tells followers (`bt-ps logs follow`, the dashboard) as a job runs. */
export type RoundEvent =
  | { type: 'announced', round: number, at: number, selected: string[], transfer: string, upload: string, bytes: number }
  | { type: 'finished', round: number, at: number, result: RoundResult }
  | { type: 'stopped', at: number, now: boolean, dropped: number, aborted?: number }

/** A small fan-out of round events; a listener that throws is dropped, so one broken follower cannot stop a round. */
export class RoundEvents {
  private readonly listeners = new Set<(e: RoundEvent) => void>()

  on (listener: (e: RoundEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  emit (e: RoundEvent): void {
    for (const l of [...this.listeners]) {
      try { l(e) } catch { this.listeners.delete(l) }
    }
  }

  get followers (): number { return this.listeners.size }
}
