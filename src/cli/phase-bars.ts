import type { StatusView } from '../server/admin-api.js'

const WIDTH = 30

interface Track { startedAt: number, startValue: number }

/**
 * One bar per phase of the open round, redrawn in place on a terminal: clients holding the model (the sum of the
 * shares they hold) and updates in, each with its rate and ETA. `bt-ps round --wait` and `bt-ps up` use it when
 * their output is a TTY and NO_COLOR is unset; otherwise they print a line per change.
 */
export class PhaseBars {
  private drawn = 0
  private round = 0
  private readonly tracks = new Map<string, Track>()

  constructor (private readonly out: NodeJS.WriteStream) {}

  static wanted (out: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
    return out.isTTY && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb'
  }

  /** Draws the bars of the open round in `s` (clears them when none is open). */
  update (s: StatusView, last: number, now = Date.now()): void {
    const current = s.current
    if (current == null) { this.clear(); return }
    if (current.round !== this.round) { this.clear(); this.tracks.clear(); this.round = current.round }
    const selected = current.selected.length
    const held = s.clients.filter(c => current.selected.includes(c.clientId) && c.round === current.round)
      .reduce((sum, c) => sum + (c.held ?? (c.state === 'training' || c.state === 'uploading' ? 1 : 0)), 0)
    const k = current.k ?? selected
    this.draw([
      `round ${current.round}/${last}`,
      this.bar('model held', Math.min(held, selected), selected, 'clients', now),
      this.bar('updates in', current.accepted.length, k, 'updates', now)
    ])
  }

  private bar (name: string, value: number, total: number, unit: string, now: number): string {
    const t = this.tracks.get(name) ?? { startedAt: now, startValue: value }
    this.tracks.set(name, t)
    const share = total > 0 ? Math.min(1, value / total) : 0
    const filled = Math.round(share * WIDTH)
    const seconds = (now - t.startedAt) / 1000
    const rate = seconds > 0.5 ? (value - t.startValue) / seconds : 0
    const eta = value >= total ? 'done' : rate > 0 ? `ETA ${Math.ceil((total - value) / rate)} s` : 'ETA –'
    return `  ${name.padEnd(11)} ${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)} ${value.toFixed(value % 1 === 0 ? 0 : 1).padStart(5)}/${total} ${unit}  ${rate.toFixed(2)}/s  ${eta}`
  }

  private draw (lines: string[]): void {
    // Up over what was drawn, then each line cleared and written again.
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : ''
    for (const l of lines) text += `\r\x1b[2K${l}\n`
    this.out.write(text)
    this.drawn = lines.length
  }

  /** Removes the bars, so the next line prints where they were. */
  clear (): void {
    if (this.drawn === 0) return
    this.out.write(`\x1b[${this.drawn}A` + '\r\x1b[2K\n'.repeat(this.drawn) + `\x1b[${this.drawn}A`)
    this.drawn = 0
  }
}
