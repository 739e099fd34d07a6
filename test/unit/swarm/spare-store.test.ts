import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SpareStore } from '../../../src/swarm/spare-store.js'

const idle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 50)) }

test('the next download of the same size gets the buffer prepared after the last one; another size gets a new one', async () => {
  const spare = new SpareStore()
  spare.prepare(3 << 20)
  await idle()
  const first = spare.take(3 << 20)
  assert.is(first.byteLength, 3 << 20)
  assert.ok(spare.take(3 << 20) !== first, 'a spare is handed out once')
  spare.prepare(1 << 20)
  const other = spare.take(2 << 20)
  assert.is(other.byteLength, 2 << 20, 'a size with no spare gets a buffer of its own')
  const prepared = spare.take(1 << 20)
  assert.is(prepared.byteLength, 1 << 20, 'a spare still warming is handed out as it is')
  spare.clear()
})

test.run()
