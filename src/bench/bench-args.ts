/**
 * How a benchmark script turns down a bad argument: `<script>: <message>` on stderr and exit status 2, before
 * anything is started.
 */
export interface BenchArgs {
  fail: (message: string) => never
  /** `v` as a number in [min, max], or the script ends naming `--name` */
  num: (name: string, v: string | undefined, min: number, max: number) => number
}

/** Declare the result with its type (`const args: BenchArgs = ...`) so that `args.fail()` ends control flow. */
export function benchArgs (script: string): BenchArgs {
  const fail = (message: string): never => {
    process.stderr.write(`${script}: ${message}\n`)
    process.exit(2)
  }
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v)
    if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < min || n > max) fail(`--${name}: expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`)
    return n
  }
  return { fail, num }
}
