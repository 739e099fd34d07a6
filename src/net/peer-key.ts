import { existsSync } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { writeFileAtomic } from '../atomic-file.js'
import { BtpsError, errorMessage } from '../errors.js'
import { readSecretFile } from '../secret-file.js'

/**
 * A libp2p identity kept in a file (mode 0600), made on first use, so a restarted peer is the same peer: the server
 * (beside its checkpoint) for clients that dial it by a /p2p/ address and trust round messages only from it; a
 * client (`client.key_file`) for the server, which binds each client id to the key it first logged in with.
 */
export async function loadOrCreatePeerKey (path: string): Promise<PrivateKey> {
  if (existsSync(path)) {
    const bytes = readSecretFile(path, 'the peer key', 'PEER_KEY_INVALID')
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new BtpsError('PEER_KEY_INVALID', `cannot read the peer key ${path}: ${errorMessage(err)}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}
