import { sleep } from '../abort.js'

/** A token bucket shared by all streams of a process: `take(n)` waits until n bytes may be sent. */
export class RateLimiter {
  readonly bytesPerSecond: number
  private available: number
  private last = performance.now()
  private readonly burst: number

  constructor (bytesPerSecond: number, burstSeconds = 0.05) {
    this.bytesPerSecond = bytesPerSecond
    this.burst = Math.max(64 * 1024, bytesPerSecond * burstSeconds)
    this.available = this.burst
  }

  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now()
      this.available = Math.min(this.burst, this.available + (now - this.last) / 1000 * this.bytesPerSecond)
      this.last = now
      if (this.available >= Math.min(bytes, this.burst)) {
        this.available -= bytes
        return
      }
      await sleep(Math.max(1, (Math.min(bytes, this.burst) - this.available) / this.bytesPerSecond * 1000), signal)
    }
  }
}
