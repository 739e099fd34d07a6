import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { BtpsError } from '../errors.js'

export const BT_PS_BIN = fileURLToPath(new URL('../../bin/bt-ps.js', import.meta.url))

export interface RoleProcess { name: string, child: ChildProcess, ready: Promise<Record<string, unknown>>, logFile: string, exited: Promise<number | null> }

/** Starts `bt-ps <args>` as a child: stderr goes to `logFile`, the `{"event":"ready"}` stdout line resolves `ready`. */
export function startRole (name: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): RoleProcess {
  const child = spawn(process.execPath, [BT_PS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
  const log = createWriteStream(logFile)
  child.stderr?.pipe(log)
  const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', line => {
      log.write(`[stdout] ${line}\n`)
      try {
        const msg = JSON.parse(line) as Record<string, unknown>
        if (msg.event === 'ready') resolve(msg)
      } catch {
        // not a JSON line: ordinary output, already in the log
      }
    })
    void exited.then(code => {
      let tail = ''
      try { tail = readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n') } catch { tail = '(no log)' }
      reject(new BtpsError('CHILD_EXITED', `${name} exited with code ${String(code)} before it was ready; last log lines (${logFile}):\n${tail}`))
    })
  })
  ready.catch(() => {})
  return { name, child, ready, logFile, exited }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopRole (p: RoleProcess, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode != null || p.child.signalCode != null) return
  p.child.kill('SIGTERM')
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, graceMs)
  await p.exited
  clearTimeout(timer)
}
