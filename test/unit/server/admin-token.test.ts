import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateAdminToken } from '../../../src/server/admin-token.js'

test('the admin token is made private, read back, and refused once others can read it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-token-'))
  try {
    const path = join(dir, 'admin-token')
    const token = loadOrCreateAdminToken(path)
    assert.is(statSync(path).mode & 0o777, 0o600)
    assert.is(loadOrCreateAdminToken(path), token)
    chmodSync(path, 0o604)
    assert.throws(() => loadOrCreateAdminToken(path), /admin token file .*admin-token is readable by others \(mode 0604\): run `chmod 600/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
