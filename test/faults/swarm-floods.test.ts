import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { startRole, stopRole } from '../../src/cli/child-process.js'
import type { RoleProcess } from '../../src/cli/child-process.js'
import { silentLogger } from '../../src/logger.js'
import { SwarmPeer } from '../../src/swarm/swarm-peer.js'
import type { SwarmPeerInit } from '../../src/swarm/swarm-peer.js'
import { TrackerService } from '../../src/tracker/tracker-service.js'

// The seeders and leechers run in this process, so its memory is theirs; gc() makes the figures settle.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const dir = mkdtempSync(join(tmpdir(), 'btps-floods-'))
const MB = 1024 * 1024

function hostile (name: string, args: string[]): RoleProcess {
  return startRole(name, args, join(dir, `${name}.log`), { script: join(process.cwd(), 'test', 'support', 'hostile-bt-peer.ts'), env: { ...process.env, NODE_OPTIONS: '--import tsx' } })
}

function memory (): { heap: number, buffers: number } {
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, buffers: m.arrayBuffers }
}

async function withPeers (init: Partial<SwarmPeerInit>, body: (p: { seeder: SwarmPeer, leecher: SwarmPeer, tracker: TrackerService }) => Promise<void>): Promise<void> {
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: silentLogger() })
  await tracker.start()
  const announce = [tracker.announceUrls.http]
  const seeder = new SwarmPeer({ announce, log: silentLogger(), host: '127.0.0.1', ...init })
  const leecher = new SwarmPeer({ announce, log: silentLogger(), host: '127.0.0.1' })
  await seeder.start(); await leecher.start()
  try {
    await body({ seeder, leecher, tracker })
  } finally {
    await leecher.stop(); await seeder.stop(); await tracker.stop()
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const addresses = (n: number): string => Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`).join(',')

test('120 idle connections from one host: capped per address, the leecher still gets the model', async () => {
  // capLoopback: 127.0.0.2 stands for another host (a local job leaves loopback uncapped).
  await withPeers({ capLoopback: true }, async ({ seeder, leecher }) => {
    const bytes = randomBytes(2 * MB)
    const seed = await seeder.seed(bytes, 'm.btps')
    const flood = hostile('idle-one-host', ['--mode', 'idle', '--target', `127.0.0.1:${seeder.port}`, '--info-hash', seed.infoHash, '--connections', '120', '--from', '127.0.0.2'])
    try {
      const ready = await flood.ready
      console.log(`flood from one address: ${String(ready.open)} connections held, ${String(ready.refused)} refused`)
      assert.ok(Number(ready.open) <= 8, `one address holds ${String(ready.open)} connections`)
      const got = await leecher.download(seed.magnet, { sha256: sha256(bytes), directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(20_000) })
      assert.ok(Buffer.from(got.bytes).equals(bytes))
    } finally {
      await stopRole(flood)
    }
  })
})

test('120 idle connections from 15 hosts: an idle connection makes way, the leecher gets the model', async () => {
  await withPeers({}, async ({ seeder, leecher }) => {
    const bytes = randomBytes(2 * MB)
    const seed = await seeder.seed(bytes, 'm.btps')
    const flood = hostile('idle-many-hosts', ['--mode', 'idle', '--target', `127.0.0.1:${seeder.port}`, '--info-hash', seed.infoHash, '--connections', '120', '--from', addresses(15)])
    try {
      const ready = await flood.ready
      assert.is(ready.open, 120, 'every slot of the torrent is taken before the leecher comes')
      const got = await leecher.download(seed.magnet, { sha256: sha256(bytes), serverPeerId: seeder.peerId, directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(20_000) })
      assert.ok(Buffer.from(got.bytes).equals(bytes))
      assert.is(got.fromServer, bytes.length)
    } finally {
      await stopRole(flood)
    }
    const done = await flood.event('done')
    console.log(`flood from 15 addresses: ${String(done.closedByTarget)} idle connections closed by the seeder`)
  })
})

test('a peer claiming the seeder\'s peer id from another address neither replaces nor gets the seeder banned', async () => {
  await withPeers({}, async ({ seeder, leecher }) => {
    const bytes = randomBytes(2 * MB)
    // The leecher joins first with no one to ask; the impostor reaches it before the real seeder does.
    const { createMetainfo, magnetUri } = await import('../../src/swarm/metainfo.js')
    const meta = createMetainfo(bytes, 'm.btps', 64 * 1024)
    const magnet = magnetUri(meta, [])
    const download = leecher.download(magnet, { sha256: sha256(bytes), serverPeerId: seeder.peerId, signal: AbortSignal.timeout(30_000) })
    download.catch(() => {})
    const impostor = hostile('impostor', ['--mode', 'impostor', '--target', `127.0.0.1:${leecher.port}`, '--info-hash', meta.infoHash, '--peer-id', seeder.peerId, '--pieces', String(meta.pieceCount), '--from', '127.0.0.9'])
    try {
      await impostor.ready
      // Now the real seeder: it announces and dials the leecher, the leecher dials it.
      const seed = await seeder.seed(bytes, 'm.btps', 64 * 1024)
      assert.is(seed.infoHash, meta.infoHash)
      const got = await download
      assert.ok(Buffer.from(got.bytes).equals(bytes), 'the model is bit-exact')
      assert.ok(got.hashFailures >= 1, 'the impostor\'s garbage was caught')
      assert.ok(seeder.uploaded(seed.infoHash) >= bytes.length, 'the real seeder served the leecher')
    } finally {
      await stopRole(impostor)
    }
    const done = await impostor.event('done')
    console.log(`impostor: ${String(done.served)} bad blocks sent`)
    assert.ok(Number(done.served) > 0, 'the impostor was asked for pieces')
  })
})

test('ut_metadata requests from a peer that never reads: the seeder\'s memory stays flat, others still download', async () => {
  await withPeers({}, async ({ seeder, leecher }) => {
    // 16 KiB pieces: an info dictionary over 16 KiB, so each request could earn a whole metadata piece.
    const bytes = randomBytes(16 * MB)
    const seed = await seeder.seed(bytes, 'm.btps', 16 * 1024)
    const before = memory()
    const flood = hostile('metadata-flood', ['--mode', 'metadata', '--target', `127.0.0.1:${seeder.port}`, '--info-hash', seed.infoHash, '--count', '10000', '--from', '127.0.0.2'])
    try {
      const ready = await flood.ready
      await new Promise(resolve => setTimeout(resolve, 1000))
      const after = memory()
      const grown = (after.buffers + after.heap - before.buffers - before.heap) / MB
      console.log(`ut_metadata flood: ${String(ready.requests)} requests (${(Number(ready.bytes) / 1e6).toFixed(2)} MB); seeder memory +${grown.toFixed(1)} MiB`)
      assert.ok(grown < 32, `memory grew ${grown.toFixed(1)} MiB`)
      const got = await leecher.download(seed.magnet, { sha256: sha256(bytes), directPeers: [`127.0.0.1:${seeder.port}`], signal: AbortSignal.timeout(30_000) })
      assert.ok(Buffer.from(got.bytes).equals(bytes))
    } finally {
      await stopRole(flood)
    }
  })
})

test('a million HAVEs on each of 8 connections before the metadata: the leecher\'s memory stays bounded, it finishes', async () => {
  await withPeers({}, async ({ seeder, leecher }) => {
    const bytes = randomBytes(2 * MB)
    const { createMetainfo, magnetUri } = await import('../../src/swarm/metainfo.js')
    const meta = createMetainfo(bytes, 'm.btps', 64 * 1024)
    const before = memory()
    const download = leecher.download(magnetUri(meta, []), { sha256: sha256(bytes), signal: AbortSignal.timeout(60_000) })
    download.catch(() => {})
    const flood = hostile('have-flood', ['--mode', 'haves', '--target', `127.0.0.1:${leecher.port}`, '--info-hash', meta.infoHash, '--count', '1000000', '--connections', '8', '--from', addresses(8)])
    try {
      const ready = await flood.ready
      await new Promise(resolve => setTimeout(resolve, 1000))
      const after = memory()
      const grown = (after.buffers + after.heap - before.buffers - before.heap) / MB
      console.log(`HAVE flood: ${(Number(ready.bytes) / 1e6).toFixed(0)} MB of HAVEs on ${String(ready.connections)} connections; leecher memory +${grown.toFixed(1)} MiB`)
      assert.ok(grown < 32, `memory grew ${grown.toFixed(1)} MiB`)
      await seeder.seed(bytes, 'm.btps', 64 * 1024)
      const got = await download
      assert.ok(Buffer.from(got.bytes).equals(bytes))
    } finally {
      await stopRole(flood)
    }
  })
})

// The hostile peers' logs go with the run (BTPS_KEEP_TEST_DIRS=1 keeps them, as for the clusters).
test.after(() => { if (process.env.BTPS_KEEP_TEST_DIRS !== '1') rmSync(dir, { recursive: true, force: true }) })

test.run()
