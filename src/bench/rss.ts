import { readFileSync } from 'node:fs'

/** A process's resident memory in MiB, from /proc (0 once it has exited). */
export function rssMb (pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'))?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}
