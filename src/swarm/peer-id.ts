import { randomBytes } from 'node:crypto'

/** Azureus-style client tag: "-BP" (bt-ps), four version digits, "-". */
const TAG = '-BP0100-'
const TAG_HEX_PREFIX = Buffer.from('-BP').toString('hex')

/** A fresh BitTorrent peer id, 20 bytes as hex: the bt-ps tag and 12 random bytes. */
export function newPeerId (): string {
  return Buffer.concat([Buffer.from(TAG), randomBytes(12)]).toString('hex')
}

/** Whether a peer id (hex) carries the bt-ps tag; anyone may claim it, so it only tunes behaviour, never trust. */
export function isBtpsPeerId (peerIdHex: string): boolean {
  return peerIdHex.startsWith(TAG_HEX_PREFIX)
}
