import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { encodeMessage } from '../../../src/net/frames.js'
import { parseLoginRequest } from '../../../src/control/login.js'
import { parseRoundMessage } from '../../../src/control/round.js'
import { parseHeartbeat } from '../../../src/control/status.js'
import { parseUpdateHeader } from '../../../src/control/update.js'
import { InvalidInputError } from '../../../src/errors.js'
import { serverAddress } from '../../../src/client/server-address.js'
import { parseRoundsRequest } from '../../../src/server/admin-api.js'

const announcement = {
  type: 'round', jobId: 'mnist', round: 2, transfer: 'bt', bytes: 1000, sha256: 'a'.repeat(64), magnet: 'magnet:?xt=urn:btih:' + 'b'.repeat(40),
  serverPeerId: 'c'.repeat(40), serverPort: 5000, selected: ['client-1', 'client-2'], deadline: 1e12, hyper: { localEpochs: 1, batchSize: 32, learningRate: 0.1, mu: 0 }
}

const message = (fn: () => unknown): string => {
  try { fn(); return 'ok' } catch (err) { return err instanceof InvalidInputError ? `${err.code}: ${err.message}` : `untyped: ${String(err)}` }
}

test('a valid round announcement and round end parse', () => {
  const a = parseRoundMessage(encodeMessage(announcement))
  assert.is(a.type, 'round')
  assert.equal(a.type === 'round' && a.selected, ['client-1', 'client-2'])
  const e = parseRoundMessage(encodeMessage({ type: 'round-end', jobId: 'mnist', round: 2, accepted: ['client-1'], reason: 'deadline' }))
  assert.is(e.type, 'round-end')
})

test('malformed messages give MESSAGE_INVALID naming the field', () => {
  assert.is(message(() => parseRoundMessage(new TextEncoder().encode('{not json'))), 'MESSAGE_INVALID: round message: is not UTF-8 JSON')
  assert.is(message(() => parseRoundMessage(encodeMessage({ ...announcement, round: -1 }))), 'MESSAGE_INVALID: round: expected a number in [0, 9007199254740991], got -1')
  assert.is(message(() => parseRoundMessage(encodeMessage({ ...announcement, sha256: 'xyz' }))), 'MESSAGE_INVALID: sha256: expected 64 lowercase hex digits')
  assert.is(message(() => parseRoundMessage(encodeMessage({ ...announcement, extra: 1 }))), 'MESSAGE_INVALID: round.extra: unknown field')
  assert.is(message(() => parseRoundMessage(encodeMessage({ ...announcement, magnet: 'http://x' }))), 'MESSAGE_INVALID: magnet: expected a magnet link')
  assert.is(message(() => parseHeartbeat(encodeMessage({ type: 'heartbeat', clientId: '../etc', state: 'idle', round: 0 }))), 'MESSAGE_INVALID: clientId: invalid id "../etc"')
  assert.is(message(() => parseUpdateHeader({ jobId: 'j', round: 1, clientId: 'c', samples: 0, report: {} })), 'MESSAGE_INVALID: update.samples: expected a number in [1, 1000000000], got 0')
  assert.is(message(() => parseLoginRequest(null)), 'MESSAGE_INVALID: login: expected an object, got null')
  assert.is(message(() => parseRoundsRequest({ count: 'x' })), 'MESSAGE_INVALID: count: expected a number in [1, 10000], got "x"')
  assert.is(message(() => parseRoundsRequest({ rounds: 2 })), 'MESSAGE_INVALID: body.rounds: unknown field')
})

test('random and mutated gossip bytes never crash the parsers', () => {
  let seed = 7
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
  const good = encodeMessage(announcement)
  for (let i = 0; i < 3000; i++) {
    const b = good.slice()
    for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
    for (const parse of [parseRoundMessage, parseHeartbeat]) {
      try { parse(b) } catch (err) { assert.ok(err instanceof InvalidInputError, `input ${i}: ${String(err)}`) }
    }
  }
})

test('server address: host:port or a multiaddr', () => {
  assert.is(serverAddress('10.0.0.2:7000'), '/ip4/10.0.0.2/tcp/7000')
  assert.is(serverAddress('server:7000'), '/dns4/server/tcp/7000')
  assert.is(serverAddress('/dns4/server/tcp/7000'), '/dns4/server/tcp/7000')
  assert.throws(() => serverAddress('server'), /client.server/)
})

test.run()
