#!/usr/bin/env -S node --import tsx
/**
 * Time to accuracy on a heterogeneous population: the same job (clients with device profiles from a profile file,
 * non-IID data) under each selection policy and seed, as `bt-ps up` runs it; reports the wall time until the test
 * accuracy first reaches the target, per run and per policy, and plots accuracy against wall time.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { benchArgs } from '../src/bench/bench-args.js'
import type { BenchArgs } from '../src/bench/bench-args.js'
import { timestampedName, writeResultFiles } from '../src/bench/result-files.js'
import { lineChart } from '../src/bench/svg-chart.js'
import { renderTable } from '../src/cli/table.js'

const USAGE = `usage: npm run bench:tta -- [--policies random,oort,contribution] [--seeds 1,2,3] [--target ACC] [--rounds R]
                            [--clients N] [--per-round K] [--clients-per-process M] [--profiles FILE]
                            [--dataset D] [--alpha A] [--train-samples N] [--out DIR] [--name NAME]

Runs one job per policy and seed (bt-ps up: N clients in processes of M client ids, K updates per round from
ceil(1.3 K) selected, each client padded to its device profile's speed and links, Dirichlet(alpha) non-IID data)
for R rounds, and reports when each reached the target test accuracy, in wall time from its first announcement.
Defaults: 200 clients, 20 per round, Fashion-MNIST, alpha 0.1, 20,000 training images, bench/profiles/heterogeneous.json,
target 0.70, 40 rounds. Results: DIR/NAME.{json,txt,svg} (default bench/results/time-to-accuracy-<time>).`

const args: BenchArgs = benchArgs('bench:tta')
const { values } = parseArgs({
  options: {
    policies: { type: 'string', default: 'random,oort,contribution' },
    seeds: { type: 'string', default: '1,2,3' },
    target: { type: 'string', default: '0.7' },
    rounds: { type: 'string', default: '40' },
    clients: { type: 'string', default: '200' },
    'per-round': { type: 'string', default: '20' },
    'clients-per-process': { type: 'string', default: '100' },
    profiles: { type: 'string', default: 'bench/profiles/heterogeneous.json' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    alpha: { type: 'string', default: '0.1' },
    'train-samples': { type: 'string', default: '20000' },
    out: { type: 'string', default: 'bench/results' },
    name: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (values.help === true) { console.log(USAGE); process.exit(0) }
const policies = values.policies.split(',')
for (const p of policies) if (!['random', 'oort', 'contribution'].includes(p)) args.fail(`--policies: ${JSON.stringify(p)} is not one of random, oort, contribution`)
const seeds = values.seeds.split(',').map(s => args.num('seeds', s, 0, 2 ** 31))
const target = args.num('target', values.target, 0, 1)
const rounds = args.num('rounds', values.rounds, 1, 10000)
const clients = args.num('clients', values.clients, 2, 10000)
const perRound = args.num('per-round', values['per-round'], 1, clients)
const perProcess = args.num('clients-per-process', values['clients-per-process'], 1, clients)

/** One round as the server's event files have it. */
interface Point { round: number, atS: number, acc: number, roundS: number }
interface Run { policy: string, seed: number, points: Point[], reachedRound?: number, reachedS?: number }

/** Runs one job with `bt-ps up`, showing each finished round; returns its rounds from `bt-ps logs export`. */
async function runJob (policy: string, seed: number): Promise<Point[]> {
  const dir = mkdtempSync(join(tmpdir(), 'btps-tta-'))
  let keep = false
  try {
    const up = ['bin/bt-ps.js', 'up', '--config', 'configs/local.yml', '--clients', String(clients), '--clients-per-process', String(perProcess),
      '--k', String(perRound), '--over-commitment', '1.3', '--rounds', String(rounds), '--selection', policy, '--seed', String(seed),
      '--dataset', values.dataset, '--partition', 'dirichlet', '--alpha', values.alpha, '--job.train_samples', values['train-samples'], '--job.test_samples', '2000',
      '--hidden-units', '64', '--test-interval', '1', '--job.profiles', resolve(values.profiles), '--job.round_timeout_s', '120',
      '--server.runs_dir', join(dir, 'runs'), '--server.checkpoint_dir', join(dir, 'ckpt'), '--log-dir', join(dir, 'logs')]
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, up, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } })
      let buffered = ''
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines) if (/done: acc|clients in|failed|exited/.test(line)) console.error(`  ${policy} seed ${seed}: ${line.trim()}`)
      })
      child.on('error', reject)
      child.on('exit', resolve)
    })
    if (code !== 0) { keep = true; throw new Error(`bt-ps up (${policy}, seed ${seed}) exited with ${String(code)}; logs in ${join(dir, 'logs')}`) }
    const rows = JSON.parse(await output(['bin/bt-ps.js', 'logs', 'export', '--json', '--runs', join(dir, 'runs')])) as Array<{ step: number, wallTime: number, values: Record<string, number> }>
    const start = rows[0].wallTime - rows[0].values.epoch_time
    return rows.map(r => ({ round: r.step, atS: r.wallTime - start, acc: r.values.test_acc_1, roundS: r.values.epoch_time }))
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true })
  }
}

async function output (argv: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.on('error', reject)
    child.on('exit', code => { if (code === 0) resolve(out); else reject(new Error(`${argv.join(' ')} exited with ${String(code)}`)) })
  })
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

async function main (): Promise<void> {
  const runs: Run[] = []
  for (const seed of seeds) {
    for (const policy of policies) {
      console.error(`bench:tta: ${policy}, seed ${seed} (${runs.length + 1} of ${policies.length * seeds.length})`)
      const points = await runJob(policy, seed)
      const reached = points.find(p => p.acc >= target)
      runs.push({ policy, seed, points, reachedRound: reached?.round, reachedS: reached?.atS })
    }
  }
  const perRun = renderTable(['policy', 'seed', 'rounds', 'target', 'reached in round', 'time to target s', 'best acc', 'mean round s'],
    runs.map(r => [r.policy, r.seed, r.points.length, target.toFixed(2), r.reachedRound ?? '-', r.reachedS?.toFixed(1) ?? 'not reached', Math.max(...r.points.map(p => p.acc)).toFixed(4), mean(r.points.map(p => p.roundS)).toFixed(2)]))
  // A run that never reached the target counts with its whole length (a lower bound on its time to target).
  const timeOf = (r: Run): number => r.reachedS ?? r.points[r.points.length - 1].atS
  const baseline = mean(runs.filter(r => r.policy === 'random').map(timeOf))
  const summary = renderTable(['policy', 'runs reaching target', 'mean time to target s', 'mean rounds to target', 'speed-up vs random'],
    policies.map(policy => {
      const mine = runs.filter(r => r.policy === policy)
      const t = mean(mine.map(timeOf))
      return [policy, `${mine.filter(r => r.reachedS != null).length}/${mine.length}`, t.toFixed(1), mean(mine.map(r => r.reachedRound ?? r.points.length)).toFixed(1), baseline > 0 ? `${(baseline / t).toFixed(2)}x` : '-']
    }))
  const table = `${clients} clients (${perProcess} per process), ${perRound} updates per round of ${Math.ceil(perRound * 1.3)} selected, ${values.dataset} Dirichlet alpha ${values.alpha}, profiles ${values.profiles}; target test accuracy ${target}\n\n${perRun}\n\n${summary}\n`
  console.log(table)
  const colors: Record<string, string> = { random: '#888888', oort: '#d62728', contribution: '#1f77b4' }
  const svg = lineChart({
    title: `Test accuracy against wall time (${values.dataset}, ${clients} clients, ${perRound} per round, target ${target})`,
    xLabel: 'wall time since the first round (s)',
    yLabel: 'test accuracy',
    series: runs.map(r => ({ name: `${r.policy} s${r.seed}`, color: colors[r.policy] ?? '#000000', dashed: r.seed !== seeds[0], points: r.points.map(p => [p.atS, p.acc] as [number, number]) }))
  })
  const name = values.name ?? timestampedName('time-to-accuracy')
  const files = writeResultFiles({ out: values.out, name, json: { target, clients, perRound, perProcess, dataset: values.dataset, alpha: Number(values.alpha), profiles: values.profiles, runs }, svg, table })
  console.error(`bench:tta: wrote ${files.jsonFile}, ${files.tableFile}, ${files.svgFile}`)
}

main().catch((err: unknown) => { console.error(`bench:tta: ${err instanceof Error ? err.message : String(err)}`); process.exit(1) })
