import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/** True when the module at `moduleUrl` (its `import.meta.url`) is the script node was started with, not an import. */
export function isEntryPoint (moduleUrl: string): boolean {
  const script = process.argv[1]
  if (script == null) return false
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl
  } catch {
    return false
  }
}
