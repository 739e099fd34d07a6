import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { BtpsError } from '../errors.js'

export const BT_PS_BIN = fileURLToPath(new URL('../../bin/bt-ps.js', import.meta.url))

export interface RoleProcess {
  name: string
  child: ChildProcess
  ready: Promise<Record<string, unknown>>
  /** Resolves with the first stdout line `{"event": <event>, ...}` (seen before or after the call). */
  event: (event: string) => Promise<Record<string, unknown>>
  logFile: string
  exited: Promise<number | null>
}

/**
 * Starts `bt-ps <args>` as a child: stderr goes to `logFile`, the `{"event":"ready"}` stdout line resolves `ready`.
 * `wrap` prefixes the command (e.g. `ip netns exec NS`, which execs, so the PID stays the node process's).
 */
export function startRole (name: string, args: string[], logFile: string, opts: { env?: NodeJS.ProcessEnv, wrap?: string[], script?: string } = {}): RoleProcess {
  const command = [...(opts.wrap ?? []), process.execPath, opts.script ?? BT_PS_BIN, ...args]
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env })
  const log = createWriteStream(logFile)
  child.stderr?.pipe(log)
  // 'close' comes after stdout is drained, so every line has been seen by then.
  const exited = new Promise<number | null>(resolve => { child.once('close', code => { resolve(code) }) })
  const seen: Array<Record<string, unknown>> = []
  const waiting: Array<{ event: string, resolve: (m: Record<string, unknown>) => void }> = []
  createInterface({ input: child.stdout! }).on('line', line => {
    log.write(`[stdout] ${line}\n`)
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(line) as Record<string, unknown>
    } catch {
      return // not a JSON line: ordinary output, already in the log
    }
    seen.push(msg)
    for (const w of waiting.filter(x => x.event === msg.event)) { waiting.splice(waiting.indexOf(w), 1); w.resolve(msg) }
  })
  const event = async (kind: string): Promise<Record<string, unknown>> => {
    const found = seen.find(m => m.event === kind)
    if (found != null) return found
    return await new Promise((resolve, reject) => {
      waiting.push({ event: kind, resolve })
      void exited.then(code => { reject(new BtpsError('CHILD_EXITED', `${name} exited with code ${String(code)} before "${kind}"; see ${logFile}`)) })
    })
  }
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    event('ready').then(resolve, () => {})
    void exited.then(code => {
      let tail = ''
      try { tail = readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n') } catch { tail = '(no log)' }
      reject(new BtpsError('CHILD_EXITED', `${name} exited with code ${String(code)} before it was ready; last log lines (${logFile}):\n${tail}`))
    })
  })
  ready.catch(() => {})
  return { name, child, ready, event, logFile, exited }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopRole (p: RoleProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode != null || p.child.signalCode != null) return
  p.child.kill('SIGTERM')
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, graceMs)
  await p.exited
  clearTimeout(timer)
}
