import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StreamAbortEvent, StreamCloseEvent, StreamResetEvent } from '@libp2p/interface'
import { errorMessage } from '../../src/errors.js'

test('a libp2p stream event thrown as an error names how the stream ended and why, not "[object Event]"', () => {
  assert.is(errorMessage(new StreamResetEvent(new Error('connection reset'))), 'stream closed by the peer: connection reset')
  assert.is(errorMessage(new StreamAbortEvent(new Error('round over'))), 'stream closed here: round over')
  assert.is(errorMessage(new StreamCloseEvent(false)), 'stream closed by the peer')
  assert.is(errorMessage(new Event('abort')), 'abort event')
})

test('errors give their message; anything else its text', () => {
  assert.is(errorMessage(new Error('disk full')), 'disk full')
  assert.is(errorMessage('plain text'), 'plain text')
  assert.is(errorMessage(undefined), 'undefined')
})

test.run()
