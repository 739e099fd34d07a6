import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { BT_PS_BIN } from '../../src/cli/child-process.js'
import { createControlNode } from '../../src/net/node.js'
import { loadPsk } from '../../src/net/psk.js'
import { framed } from '../../src/net/frames.js'
import { LOGIN_PROTOCOL } from '../../src/control/login.js'
import { statusTopic } from '../../src/control/status.js'
import { UPDATE_PROTOCOL, sendUpdate } from '../../src/control/update.js'
import { startCluster, until } from './cluster.js'

async function btps (args: string[]): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, [BT_PS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => { child.on('exit', resolve) })
  return { code, out }
}

test('--version and -V print the version; -h and --help work after every command and subcommand', async () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
  for (const flag of ['--version', '-V']) assert.equal(await btps([flag]), { code: 0, out: `bt-ps ${version}\n` })
  const commands = ['up', 'tracker', 'server', 'client', 'round', 'stop', 'status', 'logs', 'stack', 'config', 'completion']
  for (const command of commands) {
    for (const flag of ['-h', '--help']) {
      const { code, out } = await btps([command, flag])
      assert.is(code, 0, `bt-ps ${command} ${flag}`)
      assert.match(out, new RegExp(`^bt-ps ${command} `), `bt-ps ${command} ${flag} prints its usage`)
    }
  }
  for (const args of [['stack', 'generate', '-h'], ['logs', 'export', '--help'], ['round', '--server', 'http://127.0.0.1:1', '-h'], ['help', 'stack']]) {
    const { code, out } = await btps(args)
    assert.is(code, 0, args.join(' '))
    assert.match(out, /^bt-ps (stack|logs|round) /, `bt-ps ${args.join(' ')} prints its command's usage`)
  }
})

test('invalid flags and config exit with status 2 and name the field and value', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['up', '--clients', '0'], /job\.clients: 0 is out of range/],
    [['up', '--transfer', 'ftp'], /job\.transfer: expected one of bt, ps, got "ftp"/],
    [['server', '--bogus', '1'], /--bogus: unknown flag for bt-ps server/],
    [['client', '--job.lr', '1'], /job\.lr: unknown field/],
    [['up', '--config', '/nonexistent.yml'], /--config: cannot read \/nonexistent\.yml/],
    [['round', '--server', 'localhost'], /--server: expected the admin API URL/],
    [['round', '--server', 'http://127.0.0.1:1', '--rounds', 'two'], /--rounds: expected a whole number/],
    [['logs', 'export', '--format', 'xml'], /--format: expected csv or json, got "xml"/],
    [['logs', 'plot', '--runs', '.', '-o', 'curves.png'], /-o: expected an output file FILE\.svg, got "curves\.png"/],
    [['logs', 'follow'], /--server: expected the admin API URL/],
    [['logs', 'tail'], /logs: expected export, follow or plot, got "tail"/],
    [['completion', 'fish'], /completion: expected bash or zsh, got "fish"/],
    [['config', 'show'], /config: expected "config schema", got "show"/],
    [['round', '--server'], /--server: needs a value/],
    [['status', '--json=yes'], /--json: takes no value/],
    [['round', '--server', 'http://127.0.0.1:1', '--token-file', '/nonexistent-token'], /--token-file: cannot read \/nonexistent-token/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['stack', 'generate', '--config', 'configs/local.yml'], /cluster: missing: the config needs a cluster section/],
    [['stack', 'generate', '--config', 'configs/cluster.yml', '--job.clients', '64'], /cluster\.hosts: the hosts run 65 clients but job\.clients is 64/],
    [['stack', 'generate', '--config', 'configs/cluster.yml', '--cluster.tmpfs_mb', 'lots'], /cluster\.tmpfs_mb: expected a number/],
    [['stack', 'deploy'], /--config: bt-ps stack deploy needs the job's config file/],
    [['stack', 'launch'], /stack: expected one of generate, deploy, secrets, rm, ps, got "launch"/],
    [['stack', 'generate', '--config', 'configs/single-host.yml', '--cluster.psk_file', '/nonexistent-dir/job.swarm.key'], /stack generate: \/nonexistent-dir\/job\.swarm\.key and \/nonexistent-dir\/btps-single\.server\.key missing: `bt-ps stack secrets --config configs\/single-host\.yml` makes the job's keys/]
  ]
  for (const [args, pattern] of cases) {
    const { code, out } = await btps(args)
    assert.is(code, 2, `bt-ps ${args.join(' ')} -> ${String(code)}: ${out}`)
    assert.match(out, pattern)
    assert.not.match(out, /at .*\.ts:\d+/, 'no stack trace for bad input')
  }
  const down = await btps(['status', '--server', 'http://127.0.0.1:1'])
  assert.is(down.code, 1)
  assert.match(down.out, /cannot reach the server's admin API at http:\/\/127\.0\.0\.1:1/)
})

test('malformed network messages and admin requests are refused with a reason; the server keeps working', async () => {
  const [cluster, close] = await startCluster({ clients: 0, jobClients: 2, jobFlags: [] })
  // Holds the job's key: a member of the job that misbehaves, not an outsider (see private-job.test.ts).
  const rogue = await createControlNode({ host: '127.0.0.1', port: 0, psk: loadPsk(join(cluster.dir, 'swarm.key'), { create: false }) })
  let ok = false
  try {
    const conn = await rogue.dial(multiaddr(cluster.serverAddr))
    rogue.services.pubsub.subscribe(statusTopic('mnist'))
    await until('gossip mesh', async () => rogue.services.pubsub.getSubscribers(statusTopic('mnist')).length > 0 ? true : undefined, 10_000)
    await rogue.services.pubsub.publish(statusTopic('mnist'), new TextEncoder().encode('{"type":"heartbeat","clientId":42}'))
    const login = framed(await conn.newStream(LOGIN_PROTOCOL))
    await login.write(new TextEncoder().encode('not json at all'))
    const update = framed(await conn.newStream(UPDATE_PROTOCOL))
    const answer = await sendUpdate(update, { jobId: 'mnist', round: 1, clientId: 'intruder', samples: 10, report: { downloadS: 0, computeS: 0, bytesFromServer: 0, bytesFromPeers: 0, bytesUploadedToPeers: 0, utility: 0, meanLoss: 0, backend: 'cpu' } }, new Uint8Array(0))
    assert.is(answer.accepted, false)
    assert.match(answer.reason ?? '', /no round is open|not logged in/)
    const log = join(cluster.dir, 'server.log')
    await until('warnings logged', async () => { const t = readFileSync(log, 'utf8'); return /dropped malformed heartbeat.*clientId/.test(t) && /login: dropped stream/.test(t) ? true : undefined }, 10_000)

    const base = cluster.admin.base
    const token = readFileSync(cluster.adminTokenFile, 'utf8').trim()
    const auth = { authorization: `Bearer ${token}` }
    const post = async (body: string, headers: Record<string, string> = auth): Promise<[number, string]> => { const r = await fetch(`${base}/api/rounds`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } }); return [r.status, ((await r.json()) as { error: string }).error] }
    const refused = [401, 'missing or wrong bearer token: pass the token in server.admin_token_file (bt-ps round --token-file FILE)']
    assert.equal(await post('{"count":1}', {}), refused)
    assert.equal(await post('{"count":1}', { authorization: `Bearer ${token.slice(1)}x` }), refused)
    assert.is((await fetch(`${base}/api/status`)).status, 401)
    assert.is((statSync(cluster.adminTokenFile).mode & 0o777).toString(8), '600', 'the token file is private')
    assert.not.match(readFileSync(join(cluster.dir, 'server.log'), 'utf8'), new RegExp(token), 'the token is not in the log')
    assert.equal(await post('{"count":"x"}'), [400, 'count: expected a number in [1, 10000], got "x"'])
    assert.equal(await post('{"count":1,"force":true}'), [400, 'body.force: unknown field'])
    assert.equal(await post('{oops'), [400, 'body: is not UTF-8 JSON'])
    assert.is((await fetch(`${base}/api/nothing`, { headers: auth })).status, 404)
    const status = await cluster.admin.status()
    assert.is(status.state, 'idle')
    assert.equal(status.clients, [], 'the intruder did not log in')
    ok = true
  } finally {
    await rogue.stop()
    await close(!ok)
  }
})

test.run()
