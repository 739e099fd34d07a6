import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SHARD_PROTOCOL, parseShardHeader, parseShardReply } from '../../../src/control/shard.js'
import { framed, readJson, writeJson } from '../../../src/net/frames.js'
import type { FramedStream } from '../../../src/net/frames.js'
import { createControlNode } from '../../../src/net/node.js'
import { PACE_STALL_MS, PACE_WINDOW_VALUES, ShardOwner } from '../../../src/upload/shard-owner.js'

const ELEMENTS = 4 * PACE_WINDOW_VALUES

/** A contributor written out by hand, so the test sees every credit the owner grants and sends exactly what it chooses. */
class Sender {
  credit = 0
  sent = 0
  answer?: { accepted: boolean, reason?: string }
  private readonly lp: FramedStream
  private readonly values = new Float32Array(ELEMENTS).fill(0.5)

  constructor (lp: FramedStream, clientId: string) {
    this.lp = lp
    void writeJson(lp, { jobId: 'j', round: 1, clientId, shard: 0, elements: ELEMENTS })
    void (async () => {
      for (;;) {
        const reply = parseShardReply(await readJson(lp, 'reply'))
        if ('credit' in reply) this.credit = Math.max(this.credit, reply.credit)
        else { this.answer = reply; return }
      }
    })().catch(() => {})
  }

  /** Sends up to `upTo` values (never beyond the credit granted so far). */
  async send (upTo: number): Promise<void> {
    const end = Math.min(upTo, this.credit, ELEMENTS)
    for (let off = this.sent; off < end; off += 16384) await this.lp.write(new Uint8Array(this.values.buffer, off * 4, Math.min(16384, end - off) * 4))
    this.sent = Math.max(this.sent, end)
  }

  async finish (): Promise<void> { await this.lp.write(new Uint8Array(0)) }

  /** Sends everything, as credit comes, then the end frame. */
  async sendAll (): Promise<void> {
    while (this.sent < ELEMENTS) { await this.send(ELEMENTS); await new Promise(resolve => setTimeout(resolve, 10)) }
    await this.finish()
  }
}

const until = async (what: string, ok: () => boolean, ms = 10_000): Promise<void> => {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`not ${what} within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function ownerWithTwoSenders (idleMs: number): Promise<{ owner: ShardOwner, open: (which: 'fast' | 'slow') => Promise<Sender>, close: () => Promise<void> }> {
  const ownerNode = await createControlNode({ host: '127.0.0.1', port: 0 })
  const nodes = await Promise.all([0, 1].map(async () => await createControlNode({ host: '127.0.0.1', port: 0 })))
  const senders = new Map([['fast', nodes[0].peerId.toString()], ['slow', nodes[1].peerId.toString()]])
  const owner = new ShardOwner({ jobId: 'j', round: 1, shard: 0, range: { start: 0, end: ELEMENTS }, senders })
  const signal = new AbortController().signal
  await ownerNode.handle(SHARD_PROTOCOL, async (stream, conn) => {
    const lp = framed(stream)
    const header = parseShardHeader(await readJson(lp, 'shard'))
    const ack = await owner.receive(lp, header, conn.remotePeer.toString(), { signal, idleMs })
    await writeJson(lp, ack)
    await stream.close()
  })
  return {
    owner,
    open: async (which) => new Sender(framed(await nodes[which === 'fast' ? 0 : 1].dialProtocol(ownerNode.getMultiaddrs()[0], SHARD_PROTOCOL)), which),
    close: async () => { owner.drop(); await Promise.all([ownerNode, ...nodes].map(async n => { await n.stop() })) }
  }
}

test('an owner keeps a fast contributor within a window of the slowest one, and stops waiting on one that stalls', async () => {
  const { open, close } = await ownerWithTwoSenders(20_000)
  try {
    const slow = await open('slow')
    await until('credited', () => slow.credit > 0)
    await slow.send(1000)
    const fast = await open('fast')
    await until('credited', () => fast.credit > 0)
    // The fast one sends all it may; while the slow one is still moving, that is never more than a window past it.
    const t0 = Date.now()
    while (Date.now() - t0 < PACE_STALL_MS / 2) { await fast.send(ELEMENTS); await new Promise(resolve => setTimeout(resolve, 50)) }
    assert.ok(fast.credit <= 1000 + PACE_WINDOW_VALUES, `fast credit ${fast.credit}`)
    assert.ok(fast.sent < ELEMENTS, 'the fast one was held back')
    // The slow one then stalls with credit in hand: the fast one is let go and finishes.
    await until('let go', () => fast.credit === ELEMENTS, PACE_STALL_MS * 3)
    await fast.send(ELEMENTS)
    await fast.finish()
    await until('answered', () => fast.answer != null)
    assert.equal(fast.answer, { accepted: true })
    // The slow one may still finish; nothing it sent was lost.
    await until('credited', () => slow.credit === ELEMENTS)
    await slow.send(ELEMENTS)
    await slow.finish()
    await until('answered', () => slow.answer != null)
    assert.equal(slow.answer, { accepted: true })
  } finally {
    await close()
  }
})

test('a contributor held back by the owner\'s credit longer than the stall time is not taken for stalled', async () => {
  const { open, close } = await ownerWithTwoSenders(1000)
  try {
    // The fast one starts alone and gets well ahead; then a late one joins at 0 and catches up slowly.
    const fast = await open('fast')
    await until('credited', () => fast.credit > 0)
    while (fast.sent < 2 * PACE_WINDOW_VALUES) { await fast.send(2 * PACE_WINDOW_VALUES); await new Promise(resolve => setTimeout(resolve, 10)) }
    const slow = await open('slow')
    await until('credited', () => slow.credit > 0)
    const held = fast.credit
    for (let t = 0; t < 10; t++) {
      await fast.send(ELEMENTS)
      await slow.send(slow.sent + 1000)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    assert.is(fast.credit, held, 'no new credit while the late one is more than a window behind')
    assert.is(fast.answer, undefined, 'held for 2.5 stall times, and not dropped for it')
    await Promise.all([slow.sendAll(), fast.sendAll()])
    await until('answered', () => fast.answer != null && slow.answer != null)
    assert.equal([fast.answer, slow.answer], [{ accepted: true }, { accepted: true }])
  } finally {
    await close()
  }
})

test.run()
