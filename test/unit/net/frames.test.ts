import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { createControlNode } from '../../../src/net/node.js'
import { framed, readBytes, writeBytes } from '../../../src/net/frames.js'

// A model stream whose reader is busy (training, verifying) while the sender goes on: everything yamux lets in
// flight waits in the reader's buffer. That must not overflow, whatever the model size.
test('a 16 MiB transfer to a reader that starts late arrives whole over a real libp2p connection', async () => {
  const sender = await createControlNode({ host: '127.0.0.1', port: 0 })
  const receiver = await createControlNode({ host: '127.0.0.1', port: 0 })
  const model = randomBytes(16 << 20)
  try {
    await sender.handle('/bt-ps/test/1.0.0', async (stream) => {
      await writeBytes(framed(stream), model)
      await stream.close()
    })
    const stream = await receiver.dialProtocol(sender.getMultiaddrs()[0], '/bt-ps/test/1.0.0')
    const lp = framed(stream)
    await new Promise(resolve => setTimeout(resolve, 1500)) // the window fills while nobody reads
    const got = await readBytes(lp, 32 << 20, 'model', AbortSignal.timeout(30_000))
    assert.is(got.byteLength, model.byteLength)
    assert.is(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(model).digest('hex'))
  } finally {
    await receiver.stop(); await sender.stop()
  }
})

test.run()
