import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { metricsRegistry } from '../../../src/prometheus/registry.js'
import { ProcessMetrics } from '../../../src/prometheus/process-metrics.js'
import { ClientRoundMetrics } from '../../../src/client/client-metrics.js'
import { ClientMetrics } from '../../../src/server/client-metrics.js'
import { RoundMetrics } from '../../../src/server/round-metrics.js'
import { UpdateMetrics } from '../../../src/server/update-metrics.js'
import { SwarmMetrics } from '../../../src/swarm/swarm-metrics.js'
import { TrackerMetrics } from '../../../src/tracker/tracker-metrics.js'

/** Every series name the roles expose (histograms as their _bucket, _sum and _count). */
async function exposedNames (): Promise<Set<string>> {
  const registry = metricsRegistry('server')
  const processMetrics = new ProcessMetrics(registry)
  new RoundMetrics(registry); new UpdateMetrics(registry); new SwarmMetrics(registry); new ClientRoundMetrics(registry)
  new ClientMetrics(registry, () => ({ known: 0, online: 0, selected: 0, excluded: 0 }))
  new TrackerMetrics(registry, () => ({ swarms: 0, peers: 0 }))
  const names = new Set<string>()
  for (const m of await registry.getMetricsAsJSON()) {
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s)
    else names.add(m.name)
  }
  processMetrics.stop()
  return names
}

test('the Grafana dashboard queries only series the roles expose, and every subsystem has a panel', async () => {
  const dash = JSON.parse(readFileSync('monitoring/grafana-dashboard.json', 'utf8')) as { panels: Array<{ title: string, targets: Array<{ expr: string }> }> }
  const names = await exposedNames()
  const queried = new Set(dash.panels.flatMap(p => p.targets.flatMap(t => t.expr.match(/btps_[a-z0-9_]+/g) ?? [])))
  for (const q of queried) assert.ok(names.has(q), `the dashboard queries ${q}, which no role exposes`)
  for (const prefix of ['btps_round_', 'btps_update_', 'btps_clients_', 'btps_swarm_', 'btps_tracker_', 'btps_client_', 'btps_process_', 'btps_server_']) {
    assert.ok([...queried].some(q => q.startsWith(prefix)), `no panel shows ${prefix}*`)
  }
  for (const n of names) assert.match(n, /^btps_[a-z]+_[a-z0-9_]+$/, `${n}: btps_<subsystem>_<what>_<unit>`)
})

test.run()
