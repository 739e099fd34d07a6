import type { Config } from '../config/schema.js'
import type { Logger } from '../logger.js'
import { TrackerService } from '../tracker/tracker-service.js'
import { announceReady, runUntilSignal } from '../cli/lifecycle.js'
import { loadPsk } from '../net/psk.js'
import { metricsRegistry } from '../prometheus/registry.js'
import { ProcessMetrics } from '../prometheus/process-metrics.js'

/** `bt-ps tracker`: the BitTorrent tracker alone, until SIGINT/SIGTERM. */
export async function runTracker (config: Config, log: Logger): Promise<void> {
  const psk = config.job.pskFile !== '' ? loadPsk(config.job.pskFile, { create: false }) : undefined
  const metrics = metricsRegistry('tracker')
  const processMetrics = new ProcessMetrics(metrics)
  const tracker = new TrackerService({ ...config.tracker, log, psk, metrics })
  await tracker.start()
  const urls = tracker.announceUrls
  log.info('tracker listening', { http: urls.http, udp: urls.udp, stats: urls.http.replace('/announce', '/stats'), intervalS: config.tracker.announceIntervalS, serves: psk != null ? 'torrents the job registers' : 'any torrent (no job.psk_file)' })
  let last = { at: Date.now(), announces: 0 }
  const load = setInterval(() => {
    const now = Date.now()
    if (tracker.announces === last.announces) return
    log.info('tracker load', { announces: tracker.announces, perS: ((tracker.announces - last.announces) * 1000 / (now - last.at)).toFixed(1), swarms: tracker.swarms, registered: tracker.registeredTorrents, refused: tracker.refused })
    last = { at: now, announces: tracker.announces }
  }, config.tracker.loadLogS * 1000)
  // Signals are handled before the ready line: a parent may stop the role as soon as it reads it.
  const stopping = runUntilSignal(log, async () => {
    clearInterval(load)
    log.info('tracker load', { announces: tracker.announces, swarms: tracker.swarms, registered: tracker.registeredTorrents, refused: tracker.refused })
    await tracker.stop()
    processMetrics.stop()
  })
  announceReady({ role: 'tracker', port: tracker.port, http: urls.http, udp: urls.udp, metrics: urls.http.replace('/announce', '/metrics') })
  await stopping
}
