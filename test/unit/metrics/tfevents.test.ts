import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32c, maskedCrc32c } from '../../../src/metrics/crc32c.js'
import { decodeScalarEvents, encodeScalarEvent, frameRecord, readRecords } from '../../../src/metrics/tfevents.js'
import { EventWriter, readScalars } from '../../../src/metrics/event-writer.js'
import { scalarsToCsv } from '../../../src/cli/logs.js'

test('CRC-32C matches the standard check value and TFRecord masking', () => {
  assert.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283)
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa)
  const c = crc32c(new Uint8Array([1, 2, 3]))
  assert.is(maskedCrc32c(new Uint8Array([1, 2, 3])), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0)
})

test('a scalar event encodes to the protobuf bytes TensorBoard expects', () => {
  const bytes = encodeScalarEvent({ wallTime: 1.5, step: 3, tag: 'a', value: 2 })
  // wall_time (fixed64 tag 0x09) 1.5, step (varint tag 0x10) 3, summary (tag 0x2a) { value (0x0a) { tag (0x0a) "a", simple_value (0x15) 2.0f } }
  assert.equal(Array.from(bytes), [0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x10, 3, 0x2a, 10, 0x0a, 8, 0x0a, 1, 0x61, 0x15, 0, 0, 0, 0x40])
  assert.equal(decodeScalarEvents(bytes), [{ wallTime: 1.5, step: 3, tag: 'a', value: 2 }])
})

test('records carry both CRCs; a flipped bit is detected', () => {
  const rec = frameRecord(encodeScalarEvent({ wallTime: 1, step: 1, tag: 'x', value: 1 }))
  assert.is(readRecords(rec).length, 1)
  const bad = rec.slice(); bad[20] ^= 1
  assert.throws(() => readRecords(bad), /CRC mismatch/)
  assert.throws(() => readRecords(rec.subarray(0, rec.length - 2)), /truncated/)
})

test('EventWriter writes a tfevents file with the prototype scalar names; CSV export reads them back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-tfevents-'))
  try {
    const w = new EventWriter(join(dir, 'job', 'run1'))
    assert.match(w.file, /events\.out\.tfevents\.\d+\./)
    w.scalars({ test_acc_1: 0.5, test_loss: 1.25, 'network_bytes_sent (GB)': 0.001, skipped: undefined }, 1)
    w.scalars({ test_acc_1: 0.75, test_loss: 0.5 }, 2)
    const first = readRecords(readFileSync(w.file))[0]
    assert.ok(new TextDecoder().decode(first).includes('brain.Event:2'))
    const events = readScalars(dir)
    assert.equal(events.filter(e => e.tag === 'test_acc_1').map(e => [e.step, e.value, e.run]), [[1, 0.5, 'job/run1'], [2, 0.75, 'job/run1']])
    const csv = scalarsToCsv(events).trim().split('\n')
    assert.is(csv[0], 'run,step,wall_time,network_bytes_sent (GB),test_acc_1,test_loss')
    assert.match(csv[1], /^job\/run1,1,\d+\.\d{3},0\.0010000000474974513,0\.5,1\.25$/)
    assert.match(csv[2], /^job\/run1,2,\d+\.\d{3},,0\.75,0\.5$/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
