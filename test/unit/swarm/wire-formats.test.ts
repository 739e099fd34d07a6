import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import parseTorrent from 'parse-torrent'
import { InvalidInputError } from '../../../src/errors.js'
import { bdecode, bencode } from '../../../src/swarm/bencode.js'
import { createMetainfo, magnetUri, parseInfo, parseMagnet, torrentFile } from '../../../src/swarm/metainfo.js'
import { MetadataAssembly, encodeExtHandshake, encodeMetadataMessage, parseExtHandshake, parseMetadataMessage } from '../../../src/swarm/ut-metadata.js'
import { encodeHandshake, parseHandshake } from '../../../src/swarm/wire.js'
import { createRng } from '../../../src/training/rng.js'

const te = new TextEncoder()
/** Byte strings as arrays and dictionaries as plain objects, so deep equality compares content. */
const plain = (v: unknown): unknown => v instanceof Uint8Array ? Array.from(v) : Array.isArray(v) ? v.map(plain) : v != null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v

test('bencode: round trip, sorted keys, the canonical bytes of BEP 3\'s examples', () => {
  assert.is(Buffer.from(bencode({ spam: te.encode('eggs'), cow: te.encode('moo') })).toString(), 'd3:cow3:moo4:spam4:eggse')
  assert.is(Buffer.from(bencode([te.encode('spam'), 42, -3, 0])).toString(), 'l4:spami42ei-3ei0ee')
  const v = { a: [1, { b: te.encode('x') }], z: te.encode('') }
  assert.equal(plain(bdecode(bencode(v))), plain(v))
})

test('bencode: malformed input gives BENCODE_INVALID naming what is wrong', () => {
  for (const [text, why] of [['i01e', 'bad number'], ['i-0e', 'bad number'], ['5:abc', 'runs past the end'], ['l1:a', 'unterminated list'], ['d1:ai1e', 'unterminated dictionary'], ['x', 'unexpected byte'], ['i1ei2e', 'after the value'], ['l'.repeat(40) + 'e'.repeat(40), 'nested deeper']] as const) {
    try {
      bdecode(te.encode(text))
      assert.unreachable(text)
    } catch (err) {
      assert.instance(err, InvalidInputError, text)
      assert.match((err as Error).message, why, text)
    }
  }
})

test('metainfo: a standard v1 torrent (parse-torrent reads it); the info hash checks the info dictionary', async () => {
  const bytes = randomBytes(200_000)
  const meta = createMetainfo(bytes, 'model.btps', 65536)
  const parsed = await parseTorrent(torrentFile(meta, ['udp://127.0.0.1:6969']))
  assert.is(parsed.infoHash, meta.infoHash)
  assert.is(parsed.length, 200_000)
  assert.is(parsed.pieces?.length, 4)
  assert.equal(parsed.announce, ['udp://127.0.0.1:6969'])
  assert.equal(plain(parseInfo(meta.info, meta.infoHash).pieceHashes), plain(meta.pieceHashes))
  assert.throws(() => parseInfo(meta.info, '0'.repeat(40)), /hashes to/)
  assert.throws(() => parseInfo(bencode({ length: 10, name: te.encode('../x'), 'piece length': 16384, pieces: new Uint8Array(20) })), /not a plain file name/)
  assert.throws(() => parseInfo(bencode({ length: 10 ** 6, name: te.encode('x'), 'piece length': 16384, pieces: new Uint8Array(20) })), /hashes for/)
  const m = parseMagnet(magnetUri(meta, ['udp://127.0.0.1:6969', 'http://t/announce']))
  assert.equal(m, { infoHash: meta.infoHash, name: 'model.btps', trackers: ['udp://127.0.0.1:6969', 'http://t/announce'] })
  assert.throws(() => parseMagnet('magnet:?xt=urn:sha1:abc'), /btih/)
})

test('handshake and extension messages round-trip', () => {
  const ih = randomBytes(20).toString('hex')
  const id = randomBytes(20).toString('hex')
  assert.equal(parseHandshake(encodeHandshake(ih, id)), { infoHash: ih, peerId: id, extensions: true })
  assert.equal(parseExtHandshake(encodeExtHandshake(1234)), { utMetadata: 1, metadataSize: 1234, listenPort: undefined })
  assert.is(parseExtHandshake(encodeExtHandshake(1234, 250, 6881)).listenPort, 6881, 'the listen port (BEP 10\'s p)')
  const data = randomBytes(100)
  assert.equal(plain(parseMetadataMessage(encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 100, data }))), plain({ type: 'data', piece: 0, totalSize: 100, data }))
  assert.equal(parseMetadataMessage(encodeMetadataMessage({ type: 'reject', piece: 3 })), { type: 'reject', piece: 3 })
  const asm = new MetadataAssembly(16384 + 10)
  assert.is(asm.add(1, new Uint8Array(10)), undefined)
  assert.is(asm.add(0, new Uint8Array(16384))?.byteLength, 16394)
  assert.throws(() => asm.add(1, new Uint8Array(11)), /expected 10/)
})

test('random and mutated peer input never crashes a parser: each gives a typed error or a value', () => {
  const rng = createRng(7)
  const meta = createMetainfo(randomBytes(100_000), 'm', 16384)
  const seeds = [meta.info, encodeExtHandshake(500), encodeMetadataMessage({ type: 'data', piece: 0, totalSize: 20, data: new Uint8Array(20) }), encodeHandshake(meta.infoHash, meta.infoHash)]
  const parsers: Array<(b: Uint8Array) => unknown> = [b => parseInfo(b), b => parseExtHandshake(b), b => parseMetadataMessage(b), b => parseHandshake(b), b => bdecode(b)]
  let inputs = 0
  for (let n = 0; n < 3000; n++) {
    let input: Uint8Array
    if (n % 3 === 0) {
      input = Uint8Array.from({ length: Math.floor(rng() * 200) }, () => Math.floor(rng() * 256))
    } else {
      input = Uint8Array.from(seeds[n % seeds.length])
      for (let k = 0; k < 1 + Math.floor(rng() * 4); k++) input[Math.floor(rng() * input.length)] = Math.floor(rng() * 256)
      if (rng() < 0.3) input = input.subarray(0, Math.floor(rng() * input.length))
    }
    for (const parse of parsers) {
      inputs++
      try { parse(input) } catch (err) { if (!(err instanceof InvalidInputError)) assert.unreachable(`untyped ${String(err)} for ${Buffer.from(input).toString('hex').slice(0, 80)}`) }
    }
  }
  assert.is(inputs, 15_000)
})

test.run()
