/**
 * A save asked for often (the client bindings after each login) done at most once per `intervalMs`: the first ask
 * saves at once, asks within the interval after it are folded into one save at its end, and `flush()` (at stop) does
 * a pending one now. 10,000 logins then write the bindings a few times, not 10,000 times (O(n²) bytes).
 */
export class ThrottledSave {
  private timer?: NodeJS.Timeout
  private pending = false
  private lastAt = -Infinity
  private stopped = false

  /** `save` is never called after `stop()`; what it throws goes to `onError` (a timer has no caller to tell). */
  constructor (private readonly save: () => void, private readonly onError: (err: unknown) => void, private readonly intervalMs = 1000) {}

  request (): void {
    if (this.stopped) return
    this.pending = true
    if (this.timer != null) return
    const wait = this.lastAt + this.intervalMs - performance.now()
    if (wait <= 0) { this.run(); return }
    this.timer = setTimeout(() => { this.timer = undefined; this.run() }, wait)
    this.timer.unref()
  }

  /** Saves now if a save is pending. */
  flush (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.run()
  }

  /** Saves what is pending, then takes no more asks. */
  stop (): void {
    this.flush()
    this.stopped = true
  }

  private run (): void {
    if (!this.pending || this.stopped) return
    this.pending = false
    this.lastAt = performance.now()
    try {
      this.save()
    } catch (err) {
      this.onError(err)
    }
  }
}
