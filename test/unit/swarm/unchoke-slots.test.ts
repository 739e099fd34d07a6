import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UnchokeSlots } from '../../../src/swarm/unchoke-slots.js'

function slots (n: number): { s: UnchokeSlots<string>, log: string[] } {
  const log: string[] = []
  const s = new UnchokeSlots<string>(n, { choke: p => log.push(`choke ${p}`), unchoke: p => log.push(`unchoke ${p}`) })
  return { s, log }
}

test('interested peers are unchoked up to the slots; the rest wait in arrival order', () => {
  const { s, log } = slots(2)
  for (const p of ['a', 'b', 'c', 'd']) s.interested(p, 0)
  assert.equal(log, ['unchoke a', 'unchoke b'])
  assert.is(s.waitingCount, 2)
  s.remove('a', 1) // a left (closed or not interested): c, the first in line, gets the slot
  assert.equal(log.slice(2), ['unchoke c'])
  s.choke('b', 2)
  assert.equal(log.slice(3), ['choke b', 'unchoke d'])
  s.choke('x', 3) // never held a slot: nothing to say to it
  assert.is(log.length, 5)
})

test('a peer that sits on its slot and takes nothing yields it to a waiting peer, and gets back in line', () => {
  const { s, log } = slots(2)
  s.interested('idle', 0)
  s.interested('busy', 0)
  s.interested('waiting', 0)
  s.sent('busy', 1 << 20)
  s.rotate(5_000, 10_000)
  assert.is(log.length, 2, 'no one yields before holding a slot for a whole period')
  s.sent('busy', 1 << 20)
  s.rotate(10_000, 10_000)
  assert.equal(log.slice(2), ['choke idle', 'unchoke waiting'], 'the idle peer yields; the busy one keeps its slot')
  assert.ok(s.isUnchoked('busy'))
  assert.is(s.waitingCount, 1, 'the idle one waits for its next turn')
})

test('with no one waiting, nobody is choked by a rotation', () => {
  const { s, log } = slots(3)
  s.interested('a', 0)
  s.interested('b', 0)
  s.rotate(60_000, 10_000)
  assert.equal(log, ['unchoke a', 'unchoke b'])
})

test('while peers wait, the peer that took least in a period yields even if it took something', () => {
  const { s, log } = slots(2)
  s.interested('fast', 0)
  s.interested('slow', 0)
  s.interested('next', 0)
  s.sent('fast', 10_000_000)
  s.sent('slow', 1_000)
  s.rotate(10_000, 10_000)
  assert.equal(log.slice(2), ['choke slow', 'unchoke next'])
})

test.run()
