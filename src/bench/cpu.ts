import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'

let ticks: number | undefined
function clockTicks (): number {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return ticks
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export function processCpuSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return 0
  }
}

/** Machine-wide busy and total CPU time (seconds) from /proc/stat. */
export function machineCpu (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = line[3] + (line[4] ?? 0)
  const total = line.reduce((a, b) => a + b, 0)
  return { busy: (total - idle) / clockTicks(), total: total / clockTicks() }
}

export const coreCount = (): number => cpus().length

/**
 * Was the CPU, rather than the links, the limit in a window? Yes when the machine was more than 85% busy, or
 * one process used more than 90% of a core (node is single-threaded).
 */
export function cpuVerdict (machineBusyShare: number, perProcessCores: readonly number[]): { limited: boolean, why: string } {
  const top = Math.max(0, ...perProcessCores)
  if (machineBusyShare > 0.85) return { limited: true, why: `machine ${(machineBusyShare * 100).toFixed(0)}% busy` }
  if (top > 0.9) return { limited: true, why: `a process used ${(top * 100).toFixed(0)}% of a core` }
  return { limited: false, why: `machine ${(machineBusyShare * 100).toFixed(0)}% busy, busiest process ${(top * 100).toFixed(0)}% of a core` }
}
