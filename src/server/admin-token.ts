import { randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFileAtomic } from '../atomic-file.js'
import { BtpsError } from '../errors.js'
import { readSecretFile } from '../secret-file.js'

const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/

/** Reads the admin API's bearer token, or creates one (mode 0600) on first start. The token never goes to logs. */
export function loadOrCreateAdminToken (path: string): string {
  if (existsSync(path)) {
    const token = readSecretFile(path, 'the admin token file', 'ADMIN_TOKEN_INVALID').toString('utf8').trim()
    if (!TOKEN.test(token)) throw new BtpsError('ADMIN_TOKEN_INVALID', `the admin token in ${path} must be 16 to 512 characters of A-Z a-z 0-9 . _ ~ + / = -`)
    return token
  }
  const token = randomBytes(32).toString('hex')
  writeFileAtomic(path, token + '\n', 0o600)
  return token
}

/** Compares in constant time, so response timing tells nothing about the token. */
export function tokenMatches (header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  if (m == null) return false
  const a = Buffer.from(m[1])
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}
