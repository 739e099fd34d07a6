import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UpdateIntake } from '../../../src/server/update-intake.js'
import { serializeModel, parseModelHeader } from '../../../src/model/serialize.js'
import type { NamedTensor } from '../../../src/model/serialize.js'
import type { UpdateHeader } from '../../../src/control/update.js'

const model = (v: number, round = 3): Uint8Array => serializeModel({ jobId: 'job', round }, [{ name: 'w', shape: [4], dtype: 'float32', data: Float32Array.from([v, v, v, v]) } satisfies NamedTensor])
const layout = parseModelHeader(model(0)).header.tensors
const header = (clientId: string, samples = 10, round = 3): UpdateHeader => ({ jobId: 'job', round, clientId, samples, report: { downloadS: 1, computeS: 2, bytesFromServer: 0, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 1, meanLoss: 1, backend: 'cpu' } })
const intake = (k = 2): UpdateIntake => new UpdateIntake({ jobId: 'job', round: 3, selected: ['a', 'b', 'c'], k, layout, modelBytes: model(0).byteLength })
const feed = (bytes: Uint8Array) => async (staging: Uint8Array): Promise<Uint8Array> => { staging.set(bytes); return staging.subarray(0, bytes.byteLength) }

test('takes the first K updates from selected clients and averages them by the server\'s weights, not the samples they claim', async () => {
  const i = intake(2)
  await i.take(header('a', 1e9), 10, feed(model(1)))
  await i.take(header('b', 1), 30, feed(model(5)))
  assert.equal(i.accepted, ['a', 'b'])
  assert.is(i.refusal(header('c')), 'round 3 already has 2 updates')
  await i.filled
  assert.equal(Array.from(i.average.result()[0].data), [4, 4, 4, 4])
  assert.is(i.ingressBytes, 2 * model(0).byteLength)
})

test('refuses unselected clients, duplicates, other rounds and closed rounds, saying why', async () => {
  const i = intake(3)
  assert.is(i.refusal(header('z')), 'z was not selected for round 3')
  assert.is(i.refusal(header('a', 1, 2)), 'round 2 is not the open round 3')
  await i.take(header('a'), 10, feed(model(1)))
  assert.is(i.refusal(header('a')), 'a already sent its update')
  i.close()
  assert.is(i.refusal(header('b')), 'round 3 is closed')
})

test('a broken update (NaN, wrong layout, wrong round) is rejected and leaves the aggregate untouched', async () => {
  const i = intake(2)
  const nan = model(NaN)
  let err: unknown
  try { await i.take(header('a'), 10, feed(nan)) } catch (e) { err = e }
  assert.match(String(err), /UPDATE_NON_FINITE|is NaN/)
  try { await i.take(header('b'), 10, feed(serializeModel({ jobId: 'job', round: 3 }, [{ name: 'v', shape: [4], dtype: 'float32', data: new Float32Array(4) }]))) } catch (e) { err = e }
  assert.match(String(err), /tensors\[0\]\.name/)
  try { await i.take(header('c'), 10, feed(model(1, 9))) } catch (e) { err = e }
  assert.match(String(err), /round 9/)
  assert.is(i.accepted.length, 0)
  await i.take(header('a'), 10, feed(model(2)))
  assert.equal(Array.from(i.average.result()[0].data), [2, 2, 2, 2])
})

test('an update that moves the model too far is rejected with its norm; honest steps pass', async () => {
  // global = [1,1,1,1] (norm 2), ratio 10: the bound is 20.
  const global: NamedTensor[] = [{ name: 'w', shape: [4], dtype: 'float32', data: Float32Array.from([1, 1, 1, 1]) }]
  const i = new UpdateIntake({ jobId: 'job', round: 3, selected: ['a', 'b'], k: 2, layout, modelBytes: model(0).byteLength, global, maxNormRatio: 10 })
  await i.take(header('a'), 10, feed(model(1.5)))
  let err: unknown
  try { await i.take(header('b'), 10, feed(model(101))) } catch (e) { err = e }
  assert.match(String(err), /update: moves the model by 200, more than the bound 20.0/)
  assert.equal(i.accepted, ['a'])
  assert.equal(Array.from(i.average.result()[0].data), [1.5, 1.5, 1.5, 1.5])
})

test('a stalled update holds one staging slot, not the round; closing the round cancels it', async () => {
  const i = intake(2)
  let stalledSignal: AbortSignal | undefined
  const stalled = i.take(header('c'), 10, async (_staging, signal) => {
    stalledSignal = signal
    return await new Promise<Uint8Array>((_resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true }) })
  })
  await i.take(header('a'), 10, feed(model(1)))
  await i.take(header('b'), 10, feed(model(3)))
  await i.filled
  assert.equal(i.accepted, ['a', 'b'])
  assert.not.ok(stalledSignal?.aborted)
  i.close()
  let err: unknown
  try { await stalled } catch (e) { err = e }
  assert.match(String(err), /round 3 is closed/)
  assert.equal(Array.from(i.average.result()[0].data), [2, 2, 2, 2])
})

test('swarm mode: a declared contribution is admitted on its layout and declared squared distances', () => {
  const global: NamedTensor[] = [{ name: 'w', shape: [4], dtype: 'float32', data: Float32Array.from([1, 1, 1, 1]) }]
  const i = new UpdateIntake({ jobId: 'job', round: 3, selected: ['a', 'b', 'c'], k: 2, layout, modelBytes: model(0).byteLength, global, maxNormRatio: 10 })
  const contribution = (clientId: string, sumSq: number[], tensors = [{ name: 'w', shape: [4], dtype: 'float32' as const }]) =>
    ({ jobId: 'job', round: 3, clientId, report: header(clientId).report, tensors, shards: sumSq.map(x => ({ sha256: 'a'.repeat(64), sumSq: x })) })
  assert.throws(() => { i.contribute(contribution('a', [1, 1], [{ name: 'w', shape: [2, 2], dtype: 'float32' }]), 'peer-a', 10, 2) }, /update\.tensors\[0\]\.shape: \[2,2\], expected \[4\]/)
  assert.throws(() => { i.contribute(contribution('a', [1]), 'peer-a', 10, 2) }, /has 1 checks, the round has 2 shards/)
  // bound 20: sqrt(300 + 200) = 22.4
  assert.throws(() => { i.contribute(contribution('a', [300, 200]), 'peer-a', 10, 2) }, /moves the model by 22\.4, more than the bound 20\.0/)
  i.contribute(contribution('a', [2, 2]), 'peer-a', 10, 2)
  i.contribute(contribution('b', [1, 3]), 'peer-b', 30, 2)
  assert.equal(i.contributions.map(c => [c.clientId, c.peerId, c.weight]), [['a', 'peer-a', 10], ['b', 'peer-b', 30]])
  assert.is(i.refusal({ jobId: 'job', round: 3, clientId: 'c' }), 'round 3 already has 2 updates')
})

test.run()
