/** A plain-text table with right-aligned numbers, for terminal output. */
export function renderTable (headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map(r => r.map(c => String(c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map(r => (r[i] ?? '').length)))
  const isNum = headers.map((_h, i) => cells.every(r => /^[-+]?[\d.,%]+( ?[kMG]?B)?$|^-$/.test(r[i] ?? '')))
  const line = (r: string[]): string => r.map((c, i) => isNum[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(headers), widths.map(w => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
}

export function formatBytes (n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`
  return `${n} B`
}
