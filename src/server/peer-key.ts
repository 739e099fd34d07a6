import { existsSync, readFileSync } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { writeFileAtomic } from '../atomic-file.js'
import { BtpsError, errorMessage } from '../errors.js'

/**
 * The server's libp2p identity, kept beside its checkpoint (mode 0600) so a restarted server is the same peer:
 * clients that dial it by a /p2p/ address, and that trust round messages only from it, find it again.
 */
export async function loadOrCreatePeerKey (path: string): Promise<PrivateKey> {
  if (existsSync(path)) {
    try {
      return privateKeyFromProtobuf(readFileSync(path))
    } catch (err) {
      throw new BtpsError('PEER_KEY_INVALID', `cannot read the server's peer key ${path}: ${errorMessage(err)}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}
