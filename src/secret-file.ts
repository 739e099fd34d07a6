import { readFileSync, statSync } from 'node:fs'
import { BtpsError, errorMessage } from './errors.js'

/**
 * Reads a key or token file, refusing one that others may read (any group or other permission bit), as ssh does:
 * a secret left readable on a shared host is no longer the job's alone. `what` names the file in errors.
 */
export function readSecretFile (path: string, what: string, code: string): Buffer {
  let mode: number
  try {
    mode = statSync(path).mode & 0o777
  } catch (err) {
    throw new BtpsError(code, `cannot read ${path} (${what}): ${errorMessage(err)}`)
  }
  if ((mode & 0o077) !== 0) {
    throw new BtpsError(code, `${what} ${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): run \`chmod 600 ${path}\` (docker secrets: mode 0400 and the peer's uid)`)
  }
  try {
    return readFileSync(path)
  } catch (err) {
    throw new BtpsError(code, `cannot read ${path} (${what}): ${errorMessage(err)}`)
  }
}
