import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { childController, lifetimeController, raceAbort, withTimeout } from '../../src/abort.js'
import { isCode } from '../../src/errors.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapAfterGc = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }

test('a timed operation ends with the parent\'s abort, or with a TimeoutError after its time', async () => {
  const parent = new AbortController()
  const pending = withTimeout(parent.signal, 60_000, async signal => await new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => { reject(signal.reason) })
  }))
  parent.abort(new Error('server stopping'))
  await pending.then(() => assert.unreachable('resolved'), (err: Error) => { assert.is(err.message, 'server stopping') })

  const t0 = Date.now()
  await withTimeout(new AbortController().signal, 50, async signal => await new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => { reject(signal.reason) })
  })).then(() => assert.unreachable('resolved'), (err: DOMException) => { assert.is(err.name, 'TimeoutError') })
  assert.ok(Date.now() - t0 >= 45, 'the timeout fired early')
})

test('a child controller is aborted at once when its parent already was', () => {
  const parent = new AbortController()
  parent.abort(new Error('gone'))
  assert.ok(childController(parent.signal).controller.signal.aborted)
})

// The server times every heartbeat (100/s with 200 clients) against its own lifetime signal: whatever each one
// leaves on that signal is a leak for as long as the server runs.
test('50,000 timed operations under one long-lived signal leave nothing behind on it', async () => {
  const lifetime = new AbortController()
  const run = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await withTimeout(lifetime.signal, 10_000, async signal => signal.aborted)
  }
  await run(1000)
  const before = heapAfterGc()
  await run(50_000)
  const grownKb = (heapAfterGc() - before) / 1024
  assert.ok(grownKb < 512, `heap grew by ${grownKb.toFixed(0)} KiB after 50,000 operations`)
  let aborted = 0
  await withTimeout(lifetime.signal, 10_000, async signal => { signal.addEventListener('abort', () => { aborted++ }); lifetime.abort() })
  assert.is(aborted, 1, 'the parent still reaches an operation in flight')
})

test('a peer\'s lifetime signal carries a notice to each of 200 clients at once without a leak warning', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.name) }
  process.on('warning', onWarning)
  const lifetime = lifetimeController()
  await Promise.all(Array.from({ length: 200 }, async () => { await withTimeout(lifetime.signal, 10_000, async () => { await new Promise(resolve => setTimeout(resolve, 10)) }) }))
  await new Promise(resolve => setImmediate(resolve))
  process.off('warning', onWarning)
  assert.equal(warnings, [])
})

test('raceAbort: a waiter leaves at once when its signal fires; the promise it waited on goes on for the others', async () => {
  let resolve!: (v: string) => void
  const shared = new Promise<string>(r => { resolve = r })
  const leaving = new AbortController()
  const left = raceAbort(shared, leaving.signal)
  const staying = raceAbort(shared, new AbortController().signal)
  leaving.abort()
  assert.ok(await left.then(() => false, (err: unknown) => isCode(err, 'ABORTED')), 'the leaving waiter is rejected with ABORTED')
  resolve('model')
  assert.is(await staying, 'model')
})

test.run()
