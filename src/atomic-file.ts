import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Writes `data` to `path` through a temp file and a rename, creating the directory: a crash leaves the old file or
 * the new one, never half of one. `mode` applies from the first byte (secrets are never world-readable).
 */
export function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path + '.tmp', data, { mode })
  renameSync(path + '.tmp', path)
}
