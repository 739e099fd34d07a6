import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { encodeMessage } from '../../../src/net/frames.js'
import { MAX_FRAME_BYTES, MAX_GOSSIP_BYTES } from '../../../src/net/node.js'
import { MAX_HEARTBEAT_BATCH, encodeHeartbeat, encodeHeartbeats, parseHeartbeat, parseHeartbeats } from '../../../src/control/status.js'
import { InvalidInputError } from '../../../src/errors.js'

const message = (fn: () => unknown): string => {
  try { fn(); return 'ok' } catch (err) { return err instanceof InvalidInputError ? `${err.code}: ${err.message}` : `untyped: ${String(err)}` }
}

test('one identity\'s heartbeat is the same bytes as before, so servers without batches still read it', () => {
  const hb = { clientId: 'client-1', state: 'training' as const, round: 4, held: 1, uploaded: 2048 }
  assert.equal(encodeHeartbeats([hb]), encodeHeartbeat(hb))
  assert.equal(parseHeartbeat(encodeHeartbeats([hb])), { type: 'heartbeat', ...hb })
  assert.equal(parseHeartbeats(encodeHeartbeat(hb)), [{ type: 'heartbeat', ...hb }])
})

test('a batch carries every identity of a process, optional fields only where given', () => {
  const got = parseHeartbeats(encodeHeartbeats([
    { clientId: 'a', state: 'idle', round: 0 },
    { clientId: 'b', state: 'uploading', round: 7, held: 0.5, uploaded: 10 }
  ]))
  assert.equal(got, [
    { type: 'heartbeat', clientId: 'a', state: 'idle', round: 0 },
    { type: 'heartbeat', clientId: 'b', state: 'uploading', round: 7, held: 0.5, uploaded: 10 }
  ])
  const two = encodeHeartbeats([{ clientId: 'a', state: 'idle', round: 0 }, { clientId: 'b', state: 'idle', round: 0 }])
  assert.is(message(() => parseHeartbeat(two)), 'MESSAGE_INVALID: heartbeat.clients: unknown field', 'a server without batches drops one as malformed, crashing nothing')
})

test('one bad entry makes the whole batch invalid, naming the entry and its field', () => {
  const ok = { clientId: 'c', state: 'idle', round: 1 }
  const batch = (clients: unknown): Uint8Array => encodeMessage({ type: 'heartbeats', clients })
  assert.is(message(() => parseHeartbeats(batch([ok, ok, ok, { ...ok, state: 'asleep' }]))), 'MESSAGE_INVALID: clients[3].state: expected one of idle, downloading, training, uploading, offline, got "asleep"')
  assert.is(message(() => parseHeartbeats(batch([ok, { ...ok, held: 2 }]))), 'MESSAGE_INVALID: clients[1].held: expected a number in [0, 1], got 2')
  assert.is(message(() => parseHeartbeats(batch([{ ...ok, clientId: '../x' }]))), 'MESSAGE_INVALID: clients[0].clientId: invalid id "../x"')
  assert.is(message(() => parseHeartbeats(batch([{ ...ok, type: 'heartbeat' }]))), 'MESSAGE_INVALID: clients[0].type: unknown field')
  assert.is(message(() => parseHeartbeats(batch('all'))), `MESSAGE_INVALID: clients: expected a list of at most ${MAX_HEARTBEAT_BATCH} items`)
  assert.is(message(() => parseHeartbeats(batch(new Array(MAX_HEARTBEAT_BATCH + 1).fill(0)))), `MESSAGE_INVALID: clients: expected a list of at most ${MAX_HEARTBEAT_BATCH} items`)
  assert.is(message(() => parseHeartbeats(encodeMessage({ type: 'heartbeats', clients: [], extra: 1 }))), 'MESSAGE_INVALID: heartbeats.extra: unknown field')
  assert.is(message(() => parseHeartbeats(encodeMessage({ type: 'beat' }))), 'MESSAGE_INVALID: type: expected one of heartbeat, heartbeats, got "beat"')
})

test('10,000 identities at their longest fit one status frame and one gossip message', () => {
  const longest = Array.from({ length: 10_000 }, (_, i) => ({ clientId: `c${String(i).padStart(63, '0')}`, state: 'downloading' as const, round: Number.MAX_SAFE_INTEGER, held: 1 / 3, uploaded: Number.MAX_SAFE_INTEGER }))
  const bytes = encodeHeartbeats(longest)
  assert.ok(bytes.byteLength < Math.min(MAX_FRAME_BYTES, MAX_GOSSIP_BYTES), `${bytes.byteLength} bytes`)
  const got = parseHeartbeats(bytes)
  assert.is(got.length, 10_000)
  assert.is(got[9_999].clientId, longest[9_999].clientId)
})

test('random and mutated batches never crash the parser', () => {
  let seed = 11
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
  const good = encodeHeartbeats([{ clientId: 'a', state: 'idle', round: 1, held: 0.5 }, { clientId: 'b', state: 'training', round: 2, uploaded: 3 }])
  for (let i = 0; i < 3000; i++) {
    const b = good.slice()
    for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
    try { parseHeartbeats(b) } catch (err) { assert.ok(err instanceof InvalidInputError, `input ${i}: ${String(err)}`) }
  }
})

test.run()
