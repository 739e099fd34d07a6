/** A small structured logger: levels, a child per component, one JSON-ish line per entry on stderr. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug: (msg: string, ctx?: Record<string, unknown>) => void
  info: (msg: string, ctx?: Record<string, unknown>) => void
  warn: (msg: string, ctx?: Record<string, unknown>) => void
  error: (msg: string, ctx?: Record<string, unknown>) => void
  child: (ctx: Record<string, unknown>) => Logger
}

export interface LoggerInit {
  level?: LogLevel
  write?: (line: string) => void
  base?: Record<string, unknown>
}

function formatValue (v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v
  if (v instanceof Error) return JSON.stringify(v.message)
  return JSON.stringify(v)
}

export function createLogger (init: LoggerInit = {}): Logger {
  const min = LEVELS[init.level ?? 'info']
  const write = init.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const base = init.base ?? {}
  const log = (level: LogLevel) => (msg: string, ctx: Record<string, unknown> = {}) => {
    if (LEVELS[level] < min) return
    const fields = { ...base, ...ctx }
    const parts = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${formatValue(v)}`)
    write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${parts.length > 0 ? ' ' + parts.join(' ') : ''}`)
  }
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (ctx) => createLogger({ ...init, base: { ...base, ...ctx } })
  }
}

export function silentLogger (): Logger {
  return createLogger({ write: () => {} })
}
