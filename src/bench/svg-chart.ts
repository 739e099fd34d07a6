/** A small line chart as standalone SVG: completion time vs number of clients, one line per series. */
export interface Series { name: string, points: Array<[number, number]>, dashed?: boolean, color: string }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

export function lineChart (opts: { title: string, xLabel: string, yLabel: string, series: Series[], width?: number, height?: number }): string {
  const W = opts.width ?? 720
  const H = opts.height ?? 440
  const m = { l: 70, r: 150, t: 40, b: 55 }
  const xs = opts.series.flatMap(s => s.points.map(p => p[0]))
  const ys = opts.series.flatMap(s => s.points.map(p => p[1]))
  const xMin = Math.min(...xs)
  const xMax = Math.max(...xs)
  const yMax = Math.max(...ys) * 1.08 || 1
  const x = (v: number): number => m.l + (xMax === xMin ? 0.5 : (v - xMin) / (xMax - xMin)) * (W - m.l - m.r)
  const y = (v: number): number => H - m.b - (v / yMax) * (H - m.t - m.b)
  const step = niceStep(yMax / 6)
  const grid: string[] = []
  for (let v = 0; v <= yMax; v += step) {
    grid.push(`<line x1="${m.l}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#e3e3e3"/><text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${round(v)}</text>`)
  }
  // A tick at every x when there are few (clients per point of a sweep); evenly spaced ones for a time series.
  const distinct = [...new Set(xs)].sort((a, b) => a - b)
  const everyX = distinct.length <= 12
  const xTicks = everyX ? distinct : evenTicks(xMin, xMax)
  for (const v of xTicks) {
    grid.push(`<line x1="${x(v)}" y1="${H - m.b}" x2="${x(v)}" y2="${H - m.b + 5}" stroke="#333"/><text x="${x(v)}" y="${H - m.b + 20}" text-anchor="middle">${everyX ? v : round(v)}</text>`)
  }
  const lines = opts.series.map((s, i) => {
    const pts = [...s.points].sort((a, b) => a[0] - b[0])
    const path = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')
    const dots = s.dashed === true ? '' : pts.map(p => `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3.5" fill="${s.color}"/>`).join('')
    const ly = m.t + 10 + i * 22
    return `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>${dots}` +
      `<line x1="${W - m.r + 15}" y1="${ly}" x2="${W - m.r + 40}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/><text x="${W - m.r + 46}" y="${ly + 4}">${esc(s.name)}</text>`
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${(W - m.r + m.l) / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>
${grid.join('\n')}
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>
<text x="${(W - m.r + m.l) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>
<text transform="translate(18 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>
${lines.join('\n')}
</svg>
`
}

/** Multiples of a round step inside [min, max], about 8 of them. */
function evenTicks (min: number, max: number): number[] {
  const step = niceStep((max - min) / 8)
  const ticks: number[] = []
  for (let v = Math.ceil(min / step) * step; v <= max; v += step) ticks.push(v)
  return ticks
}

function niceStep (raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)))
  for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p
  return 10 * p
}

const round = (v: number): string => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1))
