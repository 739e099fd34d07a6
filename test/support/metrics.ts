/** One scrape of a Prometheus endpoint: `value(name, labels)` sums the series of `name` that carry `labels`. */
export interface Scrape {
  text: string
  value: (name: string, labels?: Record<string, string>) => number | undefined
}

/** Parses the text exposition format (one sample per line; # lines are comments). */
export function parseMetrics (text: string): Scrape {
  const samples: Array<{ name: string, labels: Record<string, string>, value: number }> = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line)
    if (m == null) throw new Error(`not a metrics line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return {
    text,
    value: (name, want = {}) => {
      const hits = samples.filter(s => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
      return hits.length === 0 ? undefined : hits.reduce((a, s) => a + s.value, 0)
    }
  }
}

export async function scrapeMetrics (url: string, token?: string): Promise<Scrape> {
  const res = await fetch(url, { headers: token != null ? { authorization: `Bearer ${token}` } : {} })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`)
  return parseMetrics(await res.text())
}
