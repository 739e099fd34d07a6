import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { roundsTopic } from '../../src/control/round.js'
import { startCluster } from './cluster.js'

test('a peer without the job\'s pre-shared key cannot connect to the server or reach its gossip', async () => {
  const [cluster, close] = await startCluster({ clients: 1, jobFlags: ['--job', 'private'] })
  const other = mkdtempSync(join(tmpdir(), 'btps-psk-'))
  const outsiders = [
    await createControlNode({ host: '127.0.0.1', port: 0 }),
    await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(join(other, 'swarm.key'), { create: true }) })
  ]
  let ok = false
  try {
    assert.is((statSync(join(cluster.dir, 'swarm.key')).mode & 0o777).toString(8), '600')
    for (const [i, outsider] of outsiders.entries()) {
      let err: unknown
      try {
        await outsider.dial(multiaddr(cluster.serverAddr), { signal: AbortSignal.timeout(5000) })
      } catch (e) { err = e }
      assert.ok(err != null, `outsider ${i} (${i === 0 ? 'no key' : 'another key'}) connected`)
      outsider.services.pubsub.subscribe(roundsTopic('private'))
      await outsider.services.pubsub.publish(roundsTopic('private'), new TextEncoder().encode('{"type":"round"}')).catch(() => {})
      assert.is(outsider.getConnections().length, 0)
    }
    // The member with the key still works.
    await cluster.admin.startRounds(1)
    const s = await cluster.admin.status()
    assert.is(s.clients.length, 1, 'only the member logged in')
    ok = true
  } finally {
    for (const o of outsiders) await o.stop()
    rmSync(other, { recursive: true, force: true })
    await close(!ok)
  }
})

test('a malformed key file is refused with a message naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-psk-'))
  try {
    assert.throws(() => loadPsk(join(dir, 'missing.key'), { create: false }), /job\.psk_file .*missing\.key does not exist: copy the job's key from the server/)
    const path = join(dir, 'ok.key')
    const key = loadPsk(path, { create: true })
    assert.equal(loadPsk(path, { create: false }), key, 'read back as written')
    rmSync(path)
    writeFileSync(path, 'not a key', { mode: 0o600 })
    assert.throws(() => loadPsk(path, { create: false }), /is not a swarm key/)
    // A key others can read is refused before it is used, with the fix in the message.
    const loose = join(dir, 'loose.key')
    loadPsk(loose, { create: true })
    chmodSync(loose, 0o644)
    assert.throws(() => loadPsk(loose, { create: false }), /job\.psk_file .*loose\.key is readable by others \(mode 0644\): run `chmod 600/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
