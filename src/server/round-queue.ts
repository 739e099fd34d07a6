import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { sleep } from '../abort.js'

export interface RoundQueueParts {
  log: Logger
  /** the server's lifetime signal now (a new one per start) */
  signal: () => AbortSignal
  /** runs the next round to its end */
  runRound: () => Promise<void>
  /** the number the next round will have, for the log */
  nextRound: () => number
  /** saves the new target with the checkpoint, so a restarted server runs the rest */
  saveTarget: (target: number) => void
  /** a round is over (done, failed or abandoned): the server goes back to idle unless it is stopping */
  settled: () => void
}

/** Rounds asked for and not yet run: they run one after another; a failed round is logged and the next one runs. */
export class RoundQueue {
  /** The round the queued work runs to; survives restarts in the checkpoint. */
  target = 0
  queued = 0
  private loop?: Promise<void>
  private readonly p: RoundQueueParts

  constructor (parts: RoundQueueParts) {
    this.p = parts
  }

  /** Queues `count` more rounds. Returns the first queued round number. */
  request (count: number): number {
    const first = this.target + 1
    this.target += count
    this.queued += count
    this.p.saveTarget(this.target)
    this.start()
    return first
  }

  /**
   * Drops the rounds not started yet: the target becomes `last`, the last round that will have run (the one in
   * progress, or the last finished when that one is being aborted). Returns how many rounds were dropped.
   */
  drop (last: number): number {
    const dropped = this.queued
    this.queued = 0
    this.target = Math.min(this.target, last)
    this.p.saveTarget(this.target)
    return dropped
  }

  /** Runs the rounds a previous run was asked for and did not finish (`round` is the last one finished). */
  resume (round: number): void {
    if (this.target <= round) return
    this.queued = this.target - round
    this.start()
  }

  /** Resolves when no round is running (after the lifetime signal aborts, once the current one has ended). */
  async idle (): Promise<void> {
    await this.loop?.catch(() => {})
  }

  private start (): void {
    this.loop ??= this.run().finally(() => { this.loop = undefined })
  }

  private async run (): Promise<void> {
    const signal = this.p.signal()
    while (this.queued > 0 && !signal.aborted) {
      this.queued--
      try {
        await this.p.runRound()
      } catch (err) {
        if (signal.aborted) return
        this.p.log.error('round failed', { round: this.p.nextRound(), reason: errorMessage(err) })
        await sleep(1000, signal).catch(() => {})
      } finally {
        this.p.settled()
      }
    }
  }
}
