import { randomBytes } from 'node:crypto'
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Writes `data` to `path` through a temp file of its own (two writers never share one), fsynced, then a rename and
 * an fsync of the directory, creating the directory: a crash or a power loss leaves the old file or the new one,
 * never an empty or half one. `mode` applies from the first byte and on every write (secrets are never
 * world-readable, also when the file existed with a looser mode).
 */
export function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o644): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
  const fd = openSync(tmp, 'wx', mode)
  try {
    try {
      fchmodSync(fd, mode)
      writeFileSync(fd, data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  const dirFd = openSync(dir, 'r')
  try { fsyncSync(dirFd) } finally { closeSync(dirFd) }
}
