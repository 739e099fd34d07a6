import { Registry } from 'prom-client'
import type { ServerResponse } from 'node:http'

/**
 * A role's own metrics registry (never prom-client's global one: `bt-ps up` and the tests run several roles in one
 * process). Every series carries `role`.
 */
export function metricsRegistry (role: 'server' | 'client' | 'tracker'): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ role })
  return registry
}

/** A registry nobody scrapes, for parts used without one (unit tests, library use). */
export function unscrapedRegistry (): Registry {
  return new Registry()
}

/**
 * Answers a scrape with the registry's text exposition. The head goes out at once (the tracker's HTTP server hands
 * every request on to bittorrent-tracker, which leaves alone a response whose head is sent).
 */
export async function sendMetrics (registry: Registry, res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': registry.contentType })
  try {
    res.end(await registry.metrics())
  } catch (err) {
    res.destroy(err instanceof Error ? err : new Error(String(err)))
  }
}

/**
 * `read` once per scrape: gauges that report parts of one snapshot call the returned function from their collect(),
 * and only the first call of a scrape reads (a scrape runs every collect() before it next yields to I/O).
 */
export function perScrape<T> (read: () => T): () => T {
  let snapshot: { value: T } | undefined
  return () => {
    if (snapshot == null) {
      snapshot = { value: read() }
      setImmediate(() => { snapshot = undefined })
    }
    return snapshot.value
  }
}
