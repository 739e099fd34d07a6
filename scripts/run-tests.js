#!/usr/bin/env node
// Runs every test file in its own process (unit tests first, then end-to-end, then faults), streams their output and ends
// with one line CI reads: "N passed, N failed, N skipped". A file that dies before uvu's summary counts as failed.
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const suites = process.argv.length > 2 ? process.argv.slice(2) : ['test/unit', 'test/e2e', 'test/faults']

function testFiles (dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...testFiles(p))
    else if (name.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const files = suites.flatMap(s => statSync(join(root, s)).isDirectory() ? testFiles(join(root, s)) : [join(root, s)])
let passed = 0
let failed = 0
let skipped = 0
const failures = []
const started = Date.now()
for (const file of files) {
  const name = relative(root, file)
  process.stdout.write(`\n### ${name}\n`)
  const t0 = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  // Dawn prints a line per adapter limit it lowers; it is noise in test output.
  const show = (d) => { const text = d.toString(); out += text; process.stdout.write(text.split('\n').filter(l => !l.startsWith('Warning: maxDynamic')).join('\n')) }
  child.stdout.on('data', show)
  child.stderr.on('data', show)
  const code = await new Promise(resolve => { child.on('exit', (c, sig) => { resolve(c ?? sig) }) })
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN)
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN)
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0)
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed += 1
    failures.push(`${name} (exited ${code} without a test summary)`)
  } else {
    passed += ok
    skipped += skip
    const bad = total - ok // uvu's Total leaves skipped tests out
    failed += bad
    if (bad > 0 || code !== 0) {
      if (bad === 0) failed += 1
      failures.push(`${name} (${bad || 1} failed)`)
    }
  }
  process.stdout.write(`### ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
}
process.stdout.write(`\n${files.length} test files in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
if (failures.length > 0) process.stdout.write(`failed: ${failures.join(', ')}\n`)
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`)
process.exitCode = failed > 0 ? 1 : 0
