import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreatePeerKey } from '../../../src/net/peer-key.js'
import { defaultClientId } from '../../../src/client/client-peer.js'
import { id } from '../../../src/net/validate.js'

// A public key's string form is its peer id.
test('a kept key gives the same peer id and default client id after a restart; another key another id', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-key-'))
  try {
    const path = join(dir, 'client.key')
    const first = (await loadOrCreatePeerKey(path)).publicKey.toString()
    assert.is(statSync(path).mode & 0o777, 0o600)
    const again = (await loadOrCreatePeerKey(path)).publicKey.toString()
    assert.is(again, first)
    assert.is(defaultClientId(again), defaultClientId(first))
    assert.is(id(defaultClientId(first), 'client.id'), defaultClientId(first), 'a valid client id')
    const other = (await loadOrCreatePeerKey(join(dir, 'other.key'))).publicKey.toString()
    assert.is.not(defaultClientId(other), defaultClientId(first))
    writeFileSync(join(dir, 'bad.key'), 'not a key', { mode: 0o600 })
    try {
      await loadOrCreatePeerKey(join(dir, 'bad.key'))
      assert.unreachable('a damaged key file must not be replaced silently')
    } catch (err) {
      assert.match(String(err), /the peer key .*bad\.key/)
    }
    chmodSync(path, 0o640)
    try {
      await loadOrCreatePeerKey(path)
      assert.unreachable('a key the group can read is refused')
    } catch (err) {
      assert.match(String(err), /the peer key .*client\.key is readable by others \(mode 0640\)/)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
