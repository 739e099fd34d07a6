import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const uplotDist = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')

/** The dashboard's files: its page, script and style, and uPlot as its package ships it (no build step). */
const FILES: Record<string, { path: string, type: string }> = {
  '/': { path: join(here, 'page.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { path: join(here, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/event-stream.js': { path: join(here, 'event-stream.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { path: join(here, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/uPlot.iife.min.js': { path: join(uplotDist, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/uPlot.min.css': { path: join(uplotDist, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }
}

const cache = new Map<string, Buffer>()

/** The file served at `path`, or undefined. Read once, then kept (a few hundred kB). */
export function dashboardAsset (path: string): { body: Buffer, type: string } | undefined {
  const f = FILES[path]
  if (f == null) return undefined
  let body = cache.get(path)
  if (body == null) { body = readFileSync(f.path); cache.set(path, body) }
  return { body, type: f.type }
}
