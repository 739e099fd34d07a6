import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import dgram from 'node:dgram'
import fc from 'fast-check'
import { BtpsError } from '../../../src/errors.js'
import { createLogger } from '../../../src/logger.js'
import { parseClusterConfig } from '../../../src/config/cluster.js'
import { readConfigFile } from '../../../src/config/load.js'
import { parseConfig } from '../../../src/config/parse.js'
import type { RawConfig } from '../../../src/config/parse.js'
import { parseModel, serializeModel } from '../../../src/model/serialize.js'
import { parseLoginRequest, parseLoginResponse } from '../../../src/control/login.js'
import { parseModelRequest } from '../../../src/control/model.js'
import { parseReceipt } from '../../../src/control/receipt.js'
import { parseReport } from '../../../src/control/report.js'
import { parseRoundMessage } from '../../../src/control/round.js'
import { parseHeartbeats } from '../../../src/control/status.js'
import { parseUpdateAck, parseUpdateHeader } from '../../../src/control/update.js'
import { parseRoundsRequest } from '../../../src/server/admin-api.js'
import { parseContribution } from '../../../src/control/contribution.js'
import { parseReduceHead, parseReduceRequest, parseReduceTrailer } from '../../../src/control/reduce.js'
import { parseShardReply, parseShardFetchRequest, parseShardFetchResponse, parseShardHeader } from '../../../src/control/shard.js'
import { statsToken } from '../../../src/tracker/registration.js'
import { TrackerService } from '../../../src/tracker/tracker-service.js'

// Property: every parser of outside input returns, or throws a typed BtpsError naming what is wrong; nothing else.
const RUNS = 2000
let inputs = 0
function typedOrOk (fn: () => unknown): boolean {
  inputs++
  try {
    fn()
  } catch (err) {
    if (!(err instanceof BtpsError)) throw err
    assert.ok(err.message.length > 0)
  }
  return true
}

/** A valid value with a few bytes overwritten, cut or extended. */
const mutated = (valid: Uint8Array): fc.Arbitrary<Uint8Array> => fc.tuple(
  fc.array(fc.tuple(fc.nat(valid.byteLength - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
  fc.nat(valid.byteLength + 16)
).map(([edits, length]) => {
  const out = new Uint8Array(length)
  out.set(valid.subarray(0, Math.min(length, valid.byteLength)))
  for (const [at, v] of edits) if (at < length) out[at] = v
  return out
})
const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

const model = serializeModel({ jobId: 'job', round: 3 }, [
  { name: 'dense/kernel', shape: [4, 3], dtype: 'float32', data: new Float32Array(12).fill(0.5) },
  { name: 'dense/bias', shape: [3], dtype: 'float32', data: new Float32Array(3) }
])
const announcement = { type: 'round', jobId: 'job', round: 2, transfer: 'bt', bytes: 100, sha256: 'a'.repeat(64), magnet: 'magnet:?xt=urn:btih:' + 'b'.repeat(40), serverPeerId: 'c'.repeat(40), serverPort: 7000, selected: ['c1', 'c2'], deadline: 1, hyper: { localEpochs: 1, batchSize: 32, learningRate: 0.1, mu: 0 } }
const peer = (id: string, n: number): Record<string, string> => ({ clientId: id, peerId: `12D3KooW${String(n).repeat(44)}`, addr: `/ip4/127.0.0.1/tcp/400${n}/p2p/12D3KooW${String(n).repeat(44)}` })
const swarmAnnouncement = { ...announcement, upload: { elements: 15, peers: [peer('c1', 1), peer('c2', 2)] } }
const contribution = { jobId: 'job', round: 1, clientId: 'c1', report: { downloadS: 1, computeS: 1, bytesFromServer: 0, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 1, backend: 'wasm' }, tensors: [{ name: 'w', shape: [4, 3], dtype: 'float32' }], shards: [{ sha256: 'd'.repeat(64), sumSq: 1 }] }
const reduce = { jobId: 'job', round: 1, shard: 0, waitMs: 1000, contributors: [{ clientId: 'c1', weight: 10, sha256: 'd'.repeat(64), sumSq: 1 }] }
const update = { jobId: 'job', round: 1, clientId: 'c1', samples: 10, report: { downloadS: 1, computeS: 1, bytesFromServer: 0, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 1, backend: 'wasm' } }

test('model files: random and mutated bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), b => typedOrOk(() => parseModel(b))), { numRuns: RUNS })
  fc.assert(fc.property(mutated(model), b => typedOrOk(() => parseModel(b))), { numRuns: RUNS })
})

test('gossip messages and stream headers: random bytes, random JSON, mutated valid messages', () => {
  // Every control protocol's parsers, both directions (src/control/).
  const parsers: Array<(v: unknown) => unknown> = [parseUpdateHeader, parseUpdateAck, parseLoginRequest, parseLoginResponse, parseReceipt, parseModelRequest, (v) => parseReport(v),
    parseContribution, parseShardHeader, parseShardReply, parseShardFetchRequest, parseShardFetchResponse, parseReduceRequest, parseReduceHead, parseReduceTrailer]
  fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), b => typedOrOk(() => parseRoundMessage(b)) && typedOrOk(() => parseHeartbeats(b))), { numRuns: RUNS })
  fc.assert(fc.property(fc.jsonValue(), v => typedOrOk(() => parseRoundMessage(json(v))) && parsers.every(p => typedOrOk(() => p(v)))), { numRuns: RUNS })
  fc.assert(fc.property(mutated(json(announcement)), b => typedOrOk(() => parseRoundMessage(b))), { numRuns: RUNS })
  // A valid message with one field replaced by anything at all.
  const replaced = <T extends object>(valid: T): fc.Arbitrary<Record<string, unknown>> => fc.tuple(fc.constantFrom(...Object.keys(valid)), fc.anything()).map(([k, v]) => ({ ...valid, [k]: v }))
  fc.assert(fc.property(replaced(announcement), v => typedOrOk(() => parseRoundMessage(json(v)))), { numRuns: RUNS })
  fc.assert(fc.property(replaced(update), v => typedOrOk(() => parseUpdateHeader(v))), { numRuns: RUNS })
  // Swarm upload: the announcement's upload plan, declarations, reduce requests.
  fc.assert(fc.property(mutated(json(swarmAnnouncement)), b => typedOrOk(() => parseRoundMessage(b))), { numRuns: RUNS })
  fc.assert(fc.property(replaced(swarmAnnouncement.upload), v => typedOrOk(() => parseRoundMessage(json({ ...announcement, upload: v })))), { numRuns: RUNS })
  fc.assert(fc.property(replaced(contribution), v => typedOrOk(() => parseContribution(v))), { numRuns: RUNS })
  fc.assert(fc.property(replaced(reduce), v => typedOrOk(() => parseReduceRequest(v))), { numRuns: RUNS })
})

test('admin API bodies: anything, and valid bodies with unknown fields', () => {
  fc.assert(fc.property(fc.anything(), v => typedOrOk(() => parseRoundsRequest(v))), { numRuns: RUNS })
  fc.assert(fc.property(fc.string({ minLength: 1 }).filter(k => k !== 'count' && k !== '__proto__'), fc.jsonValue(), (k, v) => {
    inputs++
    assert.throws(() => parseRoundsRequest({ count: 1, [k]: v }), /unknown field/)
    return true
  }), { numRuns: 500 })
})

test('config: random sections and fields, random cluster sections, random YAML files', async () => {
  const section = fc.constantFrom('job', 'tracker', 'server', 'client', 'log', 'cluster', 'other')
  const field = fc.constantFrom('rounds', 'clients', 'model', 'transfer', 'port', 'host', 'url', 'resume', 'level', 'learning_rate', 'piece_kib', 'x')
  const layer = fc.dictionary(section, fc.oneof(fc.dictionary(field, fc.oneof(fc.jsonValue(), fc.string())), fc.anything()), { maxKeys: 4 })
  fc.assert(fc.property(layer, l => typedOrOk(() => parseConfig(l as RawConfig))), { numRuns: RUNS })
  const config = parseConfig({ job: { clients: 2 } })
  const host = fc.record({ name: fc.oneof(fc.constant('a'), fc.string()), clients: fc.oneof(fc.nat(3), fc.anything()), gpu: fc.anything() }, { requiredKeys: [] })
  const cluster = fc.record({ hosts: fc.oneof(fc.array(host, { maxLength: 3 }), fc.anything()), admin_port: fc.anything(), tmpfs_mb: fc.anything(), restart: fc.anything(), logging: fc.anything(), state_dir: fc.anything() }, { requiredKeys: [] })
  fc.assert(fc.property(fc.oneof(cluster, fc.anything()), c => typedOrOk(() => parseClusterConfig(c, config))), { numRuns: RUNS })
  const dir = mkdtempSync(join(tmpdir(), 'btps-fuzz-'))
  try {
    const yaml = fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('job: [', 'job:\n  rounds: *x', '- 1\n- 2', 'job: {rounds: !!binary AAAA}', '? [a]\n: 1', 'a: &a [*a]'))
    await fc.assert(fc.asyncProperty(yaml, async text => {
      const file = join(dir, 'c.yml')
      writeFileSync(file, text)
      inputs++
      try {
        parseConfig(await readConfigFile(file))
      } catch (err) {
        if (!(err instanceof BtpsError)) throw err
      }
      return true
    }), { numRuns: 300 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('tracker: random announce queries (HTTP), datagrams (UDP) and registrations never stop it answering or register', async () => {
  const psk = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${'7'.repeat(64)}`)
  const tracker = new TrackerService({ host: '127.0.0.1', port: 0, announceIntervalS: 1, log: createLogger({ level: 'error' }), psk })
  await tracker.start()
  const base = `http://127.0.0.1:${tracker.port}`
  const udp = dgram.createSocket('udp4')
  try {
    const param = fc.constantFrom('info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'compact', 'numwant', 'ip', 'x')
    const query = fc.array(fc.tuple(param, fc.oneof(fc.string({ maxLength: 30 }), fc.nat().map(String), fc.uint8Array({ maxLength: 24 }).map(b => [...b].map(x => '%' + x.toString(16).padStart(2, '0')).join('')))), { maxLength: 8 })
    await fc.assert(fc.asyncProperty(query, fc.uint8Array({ maxLength: 120 }), async (q, datagram) => {
      inputs += 2
      const res = await fetch(`${base}/announce?${q.map(([k, v]) => `${k}=${v}`).join('&')}`, { signal: AbortSignal.timeout(5000) })
      assert.ok(res.status < 500, `HTTP ${res.status}`)
      await res.arrayBuffer()
      await new Promise<void>(resolve => { udp.send(datagram, tracker.port, '127.0.0.1', () => { resolve() }) })
      return true
    }), { numRuns: 300 })
    const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF/%.'), maxLength: 70 })
    await fc.assert(fc.asyncProperty(fc.constantFrom('POST', 'GET', 'PUT', 'DELETE'), hex, fc.option(fc.oneof(hex.map(h => `Bearer ${h}`), fc.string({ maxLength: 80 }))), async (method, tail, auth) => {
      inputs++
      const res = await fetch(`${base}/bt-ps/torrents/${tail}`, { method, headers: auth != null && /^[\x20-\x7e]*$/.test(auth) ? { authorization: auth } : {}, signal: AbortSignal.timeout(5000) })
      assert.ok([400, 401, 404, 405].includes(res.status), `HTTP ${res.status} for ${method} ${tail}`)
      await res.arrayBuffer()
      return true
    }), { numRuns: 300 })
    assert.is(tracker.registeredTorrents, 0, 'no forged registration got through')
    const stats = await fetch(`${base}/stats.json`, { headers: { authorization: `Bearer ${statsToken(psk)}` }, signal: AbortSignal.timeout(5000) })
    assert.is(stats.status, 200, 'the tracker still serves after the fuzzing')
  } finally {
    udp.close()
    await tracker.stop()
  }
  console.log(`fuzz: ${inputs} random and mutated inputs across model files, messages, admin bodies, config and tracker requests`)
})

test.run()
