import { lineChart } from '../bench/svg-chart.js'
import type { Series } from '../bench/svg-chart.js'
import type { readScalars } from '../metrics/event-writer.js'

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf']
const W = 640
const H = 380

/**
 * Test accuracy and loss of every run, against round and against seconds since the run's first scalar: four charts
 * in one SVG (2 × 2), one line per run.
 */
export function scalarsPlot (events: ReturnType<typeof readScalars>): string {
  const runs = [...new Set(events.map(e => e.run))].sort()
  const series = (tag: string, x: 'step' | 'time'): Series[] => runs.flatMap((run, i) => {
    const mine = events.filter(e => e.run === run)
    const t0 = Math.min(...mine.map(e => e.wallTime))
    const points = mine.filter(e => e.tag === tag).map(e => [x === 'step' ? e.step : e.wallTime - t0, e.value] as [number, number])
    return points.length === 0 ? [] : [{ name: run === '' ? 'run' : run.slice(-24), points, color: COLORS[i % COLORS.length] }]
  })
  const charts = [
    { title: 'test accuracy by round', tag: 'test_acc_1', x: 'step', xLabel: 'round', yLabel: 'top-1 accuracy' },
    { title: 'test loss by round', tag: 'test_loss', x: 'step', xLabel: 'round', yLabel: 'loss' },
    { title: 'test accuracy over time', tag: 'test_acc_1', x: 'time', xLabel: 'seconds since the run began', yLabel: 'top-1 accuracy' },
    { title: 'test loss over time', tag: 'test_loss', x: 'time', xLabel: 'seconds since the run began', yLabel: 'loss' }
  ] as const
  const parts = charts.map((c, i) => {
    const s = series(c.tag, c.x)
    const svg = s.length === 0
      ? `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-family="sans-serif">no ${c.tag} scalars</text></svg>`
      : lineChart({ title: c.title, xLabel: c.xLabel, yLabel: c.yLabel, series: s, width: W, height: H })
    return svg.replace('<svg ', `<svg x="${(i % 2) * W}" y="${Math.floor(i / 2) * H}" `)
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${2 * H}">\n${parts.join('\n')}\n</svg>\n`
}
