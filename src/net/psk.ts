import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFileAtomic } from '../atomic-file.js'
import { BtpsError } from '../errors.js'
import { readSecretFile } from '../secret-file.js'

/** The swarm.key format IPFS and libp2p use for private networks: a header, then 32 bytes in hex. */
const PSK_FILE = /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-fA-F]{64}\s*$/

/**
 * Reads the job's pre-shared key (libp2p private network): without it no peer can open a connection to the job's
 * peers, let alone log in or publish. `create` (the server) writes a new one, mode 0600, when the file is missing.
 */
export function loadPsk (path: string, opts: { create: boolean }): Uint8Array {
  if (!existsSync(path)) {
    if (!opts.create) throw new BtpsError('PSK_INVALID', `job.psk_file ${path} does not exist: copy the job's key from the server`)
    writeFileAtomic(path, `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`, 0o600)
  }
  const text = readSecretFile(path, 'job.psk_file', 'PSK_INVALID').toString('utf8')
  if (!PSK_FILE.test(text)) throw new BtpsError('PSK_INVALID', `job.psk_file ${path} is not a swarm key (/key/swarm/psk/1.0.0/, /base16/, 64 hex digits)`)
  return new TextEncoder().encode(text.trimEnd())
}
