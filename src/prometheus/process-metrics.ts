import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IntervalHistogram } from 'node:perf_hooks'
import { Gauge } from 'prom-client'
import type { Registry } from 'prom-client'

/**
 * Memory and event-loop lag of this process: `btps_process_resident_memory_bytes`, `btps_process_heap_used_bytes`
 * and `btps_process_event_loop_lag_seconds` (the 99th percentile since the previous scrape).
 */
export class ProcessMetrics {
  private readonly delay: IntervalHistogram

  constructor (registry: Registry) {
    const delay = this.delay = monitorEventLoopDelay({ resolution: 20 })
    delay.enable()
    const registers = [registry]
    new Gauge({ name: 'btps_process_resident_memory_bytes', help: 'resident set size', registers, collect () { this.set(process.memoryUsage.rss()) } })
    new Gauge({ name: 'btps_process_heap_used_bytes', help: 'V8 heap in use', registers, collect () { this.set(process.memoryUsage().heapUsed) } })
    new Gauge({
      name: 'btps_process_event_loop_lag_seconds',
      help: 'event-loop delay, 99th percentile since the previous scrape',
      registers,
      collect () {
        // The histogram is in nanoseconds; with no sample yet it reports a huge minimum, so 0 then.
        this.set(delay.count > 0 ? delay.percentile(99) / 1e9 : 0)
        delay.reset()
      }
    })
  }

  stop (): void { this.delay.disable() }
}
