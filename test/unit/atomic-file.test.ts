import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../../src/atomic-file.js'

test('a secret written over a loose file, or past a temp file a crash left behind, ends up 0600 and whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-atomic-'))
  try {
    const path = join(dir, 'server.key')
    writeFileSync(path, 'old')
    chmodSync(path, 0o644)
    // What a writer killed between write and rename used to leave: a readable temp file under the fixed name.
    writeFileSync(`${path}.tmp`, 'half')
    chmodSync(`${path}.tmp`, 0o644)
    writeFileAtomic(path, 'secret', 0o600)
    assert.is(readFileSync(path, 'utf8'), 'secret')
    assert.is(statSync(path).mode & 0o777, 0o600)
    writeFileAtomic(path, 'again', 0o600)
    assert.is(statSync(path).mode & 0o777, 0o600)
    assert.equal(readdirSync(dir).sort(), ['server.key', 'server.key.tmp'], 'no temp file of its own is left; the stale one is not used')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a failed write leaves the old file and no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-atomic-'))
  try {
    const path = join(dir, 'state.json')
    writeFileAtomic(path, '{"round":1}')
    // A directory where the file should go: the rename fails.
    const blocked = join(dir, 'blocked')
    writeFileAtomic(join(blocked, 'x'), 'x')
    assert.throws(() => { writeFileAtomic(blocked, 'y') })
    assert.is(readFileSync(path, 'utf8'), '{"round":1}')
    assert.equal(readdirSync(dir).sort(), ['blocked', 'state.json'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
