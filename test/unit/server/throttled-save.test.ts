import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ThrottledSave } from '../../../src/server/throttled-save.js'

test('10,000 logins write the bindings twice, not 10,000 times, and the last write holds every login', async () => {
  let logins = 0
  const saved: number[] = []
  let wake = (): void => {}
  const save = new ThrottledSave(() => { if (saved.push(logins) === 2) wake() }, (err) => { throw err }, 50)
  const second = new Promise<void>(resolve => { wake = resolve })
  for (let i = 0; i < 10_000; i++) { logins++; save.request() }
  assert.equal(saved, [1], 'the first login is saved at once')
  // The save's timer is unref'd (it never holds a process open): this keeps the test's alive meanwhile.
  const alive = setInterval(() => {}, 1000)
  await second
  clearInterval(alive)
  assert.equal(saved, [1, 10_000], 'the rest in one write at the end of the interval')
})

test('stop writes what is pending at once, and nothing after', () => {
  const saved: string[] = []
  const save = new ThrottledSave(() => { saved.push('write') }, () => {}, 60_000)
  save.request()
  save.request()
  save.stop()
  save.request()
  assert.is(saved.length, 2, 'the first and the pending one; none after stop')
  const idle = new ThrottledSave(() => { saved.push('idle') }, () => {}, 60_000)
  idle.stop()
  assert.not.ok(saved.includes('idle'), 'nothing pending, nothing written')
})

test('a failed write is reported, not thrown from a timer', () => {
  const errors: string[] = []
  const save = new ThrottledSave(() => { throw new Error('disk full') }, (err) => { errors.push((err as Error).message) }, 60_000)
  save.request()
  assert.equal(errors, ['disk full'])
  save.stop()
})

test.run()
