import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseConfig } from '../../../src/config/parse.js'
import { silentLogger } from '../../../src/logger.js'
import { metricsRegistry } from '../../../src/prometheus/registry.js'
import { AdminApi } from '../../../src/server/admin-api.js'
import { ParameterServer } from '../../../src/server/parameter-server.js'
import { parseMetrics } from '../../support/metrics.js'

async function withAdmin (metricsPublic: boolean, fn: (base: string) => Promise<void>): Promise<void> {
  const server = new ParameterServer({ log: silentLogger(), metrics: metricsRegistry('server') }, parseConfig({ job: { clients: 2 } }))
  const admin = new AdminApi({ server, log: silentLogger() }, 'sekrit', { metricsPublic })
  await admin.start('127.0.0.1', 0)
  try { await fn(`http://127.0.0.1:${admin.port}`) } finally { await admin.stop() }
}

test('GET /metrics on the admin port takes the admin token, and serves every server series with role="server"', async () => {
  await withAdmin(false, async (base) => {
    const anon = await fetch(`${base}/metrics`)
    assert.is(anon.status, 401)
    const res = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer sekrit' } })
    assert.is(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const m = parseMetrics(await res.text())
    assert.is(m.value('btps_round_finished_total', { status: 'aggregated', role: 'server' }), 0)
    assert.is(m.value('btps_update_refused_total', { reason: 'norm' }), 0)
    assert.is(m.value('btps_swarm_pieces_total', { source: 'peer' }), 0)
    assert.is(m.value('btps_clients_online'), 0)
    assert.is(m.value('btps_round_phase_seconds_count', { phase: 'round' }), undefined, 'no phase before a round')
  })
})

test('server.metrics_public: /metrics without the token, the API still behind it', async () => {
  await withAdmin(true, async (base) => {
    assert.is((await fetch(`${base}/metrics`)).status, 200)
    assert.is((await fetch(`${base}/api/status`)).status, 401)
  })
})

test.run()
