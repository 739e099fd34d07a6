import { readFileSync } from 'node:fs'

/** The package's version, as `bt-ps --version` prints it. */
export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
