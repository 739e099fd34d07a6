import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parseClusterConfig } from '../../../src/config/cluster.js'
import { loadConfig, readConfigFile } from '../../../src/config/load.js'
import { parseConfig } from '../../../src/config/parse.js'
import { InvalidInputError } from '../../../src/errors.js'
import { stackFile, stackYaml } from '../../../src/stack/stack-file.js'

type Service = { image: string, environment: Record<string, string>, volumes: Array<Record<string, unknown>>, ports?: unknown[], networks: string[], deploy: { endpoint_mode: string, placement?: { constraints: string[] }, restart_policy: { condition: string }, labels: Record<string, string> } }

async function stackOf (file: string): Promise<{ services: Record<string, Service>, networks: Record<string, { driver: string }>, volumes?: object }> {
  const config = await loadConfig({ file })
  const raw = await readConfigFile(file)
  return stackFile(config, parseClusterConfig(raw.cluster, config), '/etc/bt-ps/job.swarm.key', SERVER) as never
}

const SERVER = { keyFile: '/etc/bt-ps/job.server.key', peerId: '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK' }
const PSK_SECRET = { source: 'psk', target: 'psk', uid: '10001', gid: '10001', mode: 0o400 }

const errorOf = (cluster: unknown, job: Record<string, unknown> = { clients: 2 }): string => {
  try { parseClusterConfig(cluster, parseConfig({ job })) } catch (err) { return err instanceof InvalidInputError ? err.message : `untyped: ${String(err)}` }
  return 'no error'
}

test('the reference cluster: tracker, server and 65 clients, each pinned to its host and GPU', async () => {
  const stack = await stackOf('configs/cluster.yml')
  const names = Object.keys(stack.services)
  assert.is(names.length, 67)
  assert.equal(names.slice(0, 3), ['tracker', 'server', 'client-01'])
  assert.is(names.at(-1), 'client-65')
  const perHost = new Map<string, number>()
  for (const [name, s] of Object.entries(stack.services)) {
    assert.is(s.deploy.endpoint_mode, 'dnsrr', name)
    assert.equal(s.networks, ['btps'])
    assert.is(s.deploy.restart_policy.condition, 'any')
    const host = /^node.hostname == (.+)$/.exec(s.deploy.placement?.constraints[0] ?? '')?.[1]
    assert.ok(host != null, `${name} has no host constraint`)
    if (s.deploy.labels['io.bt-ps.role'] !== 'client') continue
    perHost.set(host, (perHost.get(host) ?? 0) + 1)
    assert.is(s.image, 'registry.lab:5000/ml/bt-ps-peer-gpu:0.1.0')
    assert.is(s.environment.BTPS_CLIENT_ID, name)
    assert.is(s.environment.BTPS_CLIENT_SERVER, `/dns4/server/tcp/7000/p2p/${SERVER.peerId}`, 'clients pin the server\'s peer id')
    assert.is(s.environment.NVIDIA_VISIBLE_DEVICES, '0')
    assert.is(s.environment.BTPS_JOB_CLIENTS, '65')
    assert.is(s.environment.BTPS_JOB_PSK_FILE, '/run/secrets/psk')
    assert.equal((s as unknown as { secrets: unknown[] }).secrets, [PSK_SECRET], 'the key is the peer user\'s alone')
    assert.equal(s.volumes, [{ type: 'tmpfs', target: '/tmp', tmpfs: { size: 512 * 1024 * 1024 } }])
  }
  assert.equal([...perHost.values()], [9, 9, 9, 9, 9, 10, 10])
  assert.is(stack.networks.btps.driver, 'overlay')
  assert.equal(stack.networks.btps, { ...stack.networks.btps, attachable: false, driver_opts: { encrypted: 'true' } }, 'an encrypted overlay no other container can join')
  for (const [name, s] of Object.entries(stack.services)) {
    const hard = s as unknown as { read_only: boolean, cap_drop: string[], deploy: { resources?: { limits: { memory: string } } } }
    assert.ok(hard.read_only, `${name}: read-only root`)
    assert.equal(hard.cap_drop, ['ALL'], name)
    assert.is(hard.deploy.resources?.limits.memory, name === 'tracker' ? '256M' : name === 'server' ? '4096M' : '2048M', name)
  }
  assert.equal((stack.services.server as unknown as { secrets: unknown[] }).secrets, [PSK_SECRET, { ...PSK_SECRET, source: 'server_key', target: 'server_key' }])
  assert.is(stack.services.server.environment.BTPS_SERVER_KEY_FILE, '/run/secrets/server_key')
  assert.is((stack as unknown as { secrets: { server_key: { file: string } } }).secrets.server_key.file, SERVER.keyFile)
  assert.is((stack as unknown as { secrets: { psk: { file: string } } }).secrets.psk.file, '/etc/bt-ps/job.swarm.key')
  assert.is(stack.services.tracker.image, 'registry.lab:5000/ml/bt-ps-tracker:0.1.0')
  // The tracker holds the key too: it serves only the torrents the job's server registers.
  assert.is(stack.services.tracker.environment.BTPS_JOB_PSK_FILE, '/run/secrets/psk')
  assert.equal((stack.services.tracker as unknown as { secrets: unknown[] }).secrets, [PSK_SECRET])
  assert.equal(stack.services.server.ports, [{ target: 8080, published: 8080, protocol: 'tcp', mode: 'host' }])
  assert.equal(stack.services.server.volumes[0], { type: 'bind', source: '/srv/bt-ps', target: '/var/lib/bt-ps' })
})

test('one machine: no placement, state in a named volume, CPU images; the job file also runs `bt-ps up`', async () => {
  const stack = await stackOf('configs/single-host.yml')
  assert.equal(Object.keys(stack.services), ['tracker', 'server', 'client-01', 'client-02', 'client-03'])
  for (const s of Object.values(stack.services)) assert.is(s.deploy.placement, undefined)
  assert.is(stack.services['client-02'].image, 'bt-ps-peer:local')
  assert.is(stack.services['client-02'].environment.NVIDIA_VISIBLE_DEVICES, undefined)
  assert.equal(stack.services.server.volumes[0], { type: 'volume', source: 'state', target: '/var/lib/bt-ps' })
  assert.ok(stack.volumes != null)
  assert.equal(stack.services.server.ports, [{ target: 8080, published: 8080, protocol: 'tcp', mode: 'host' }], 'publish_admin: yes')
  assert.is((await loadConfig({ file: 'configs/single-host.yml' })).job.clients, 3)
})

test('defaults: the admin API unpublished, the tracker limited to 512 MiB, the peers unlimited', () => {
  const config = parseConfig({ job: { clients: 2 } })
  const stack = stackFile(config, parseClusterConfig({ hosts: [{ name: 'a', clients: 2 }] }, config), '/k', SERVER) as unknown as { services: Record<string, Service & { deploy: { resources?: { limits: { memory: string } } } }> }
  assert.is(stack.services.server.ports, undefined, 'the admin API is not published unless the cluster file asks')
  assert.is(stack.services.tracker.deploy.resources?.limits.memory, '512M')
  assert.is(stack.services.server.deploy.resources, undefined)
  assert.is(stack.services['client-01'].deploy.resources, undefined)
})

test('cluster.metrics: a Prometheus service scrapes tracker, server and every client by service name; off by default', () => {
  const config = parseConfig({ job: { clients: 3 } })
  const off = stackFile(config, parseClusterConfig({ hosts: [{ name: 'a', clients: 3 }] }, config), '/k', SERVER) as unknown as { services: Record<string, Service> }
  assert.is(off.services.prometheus, undefined)
  assert.is(off.services['client-01'].environment.BTPS_CLIENT_METRICS_PORT, undefined)
  const on = stackFile(config, parseClusterConfig({ hosts: [{ name: 'a', clients: 1 }, { name: 'b', clients: 2 }], server_host: 'b', metrics: 'yes' }, config), '/k', SERVER) as unknown as { services: Record<string, Service & { entrypoint: string[] }>, volumes: Record<string, unknown> }
  const prom = on.services.prometheus
  assert.is(prom.image, 'prom/prometheus:v2.53.0')
  assert.equal(prom.deploy.placement?.constraints, ['node.hostname == b'], 'beside the server')
  assert.equal(prom.ports, [{ target: 9090, published: 9090, protocol: 'tcp', mode: 'host' }])
  const yml = parseYaml(prom.environment.PROMETHEUS_YML) as { scrape_configs: Array<{ job_name: string, static_configs: Array<{ targets: string[] }> }> }
  assert.equal(Object.fromEntries(yml.scrape_configs.map(j => [j.job_name, j.static_configs[0].targets])), {
    'bt-ps-tracker': ['tracker:6969'], 'bt-ps-server': ['server:8080'], 'bt-ps-clients': ['client-01:9464', 'client-02:9464', 'client-03:9464']
  })
  assert.match(prom.entrypoint.join(' '), /\$\$PROMETHEUS_YML/)
  assert.ok(on.volumes.prometheus != null, 'its data in a volume')
  assert.is(on.services.server.environment.BTPS_SERVER_METRICS_PUBLIC, 'yes')
  for (const c of ['client-01', 'client-02', 'client-03']) assert.is(on.services[c].environment.BTPS_CLIENT_METRICS_PORT, '9464')
  assert.is(errorOf({ hosts: [{ name: 'a', clients: 2 }], metrics: 'maybe' }), 'cluster.metrics: expected one of yes, no, got "maybe"')
  assert.is(errorOf({ hosts: [{ name: 'a', clients: 2 }], prometheus_port: 70000 }), 'cluster.prometheus_port: expected a number in [0, 65535], got 70000')
})

test('docker reads the file as YAML 1.1: every environment value stays a string (job.synthetic_update: "no", not false)', async () => {
  const file = 'configs/single-host.yml'
  const config = await loadConfig({ file })
  const text = stackYaml(config, parseClusterConfig((await readConfigFile(file)).cluster, config), file, '/etc/bt-ps/job.swarm.key', SERVER)
  const stack = parseYaml(text, { version: '1.1' }) as { services: Record<string, Service> }
  for (const [name, s] of Object.entries(stack.services)) {
    for (const [k, v] of Object.entries(s.environment)) assert.type(v, 'string', `${name}: ${k} is ${JSON.stringify(v)}`)
  }
  assert.is(stack.services['client-01'].environment.BTPS_JOB_SYNTHETIC_UPDATE, 'no')
})

test('bad cluster sections name the field', () => {
  const host = { name: 'a', clients: 2 }
  assert.is(errorOf(undefined), 'cluster: missing: the config needs a cluster section (hosts, clients per host) to make a stack')
  assert.is(errorOf({ hosts: [{ name: 'a', clients: 1 }] }), 'cluster.hosts: the hosts run 1 clients but job.clients is 2')
  assert.is(errorOf({ hosts: [host, { name: 'a', clients: 0 }] }), 'cluster.hosts: host a is listed twice')
  assert.is(errorOf({ hosts: [{ ...host, gpus: 1 }] }), 'cluster.hosts[0].gpus: unknown field')
  assert.is(errorOf({ hosts: [{ ...host, gpu: 'first' }] }), 'cluster.hosts[0].gpu: expected a GPU index, a GPU-<uuid> or none, got "first"')
  assert.is(errorOf({ hosts: [host], server_host: 'b' }), 'cluster.server_host: b is not one of cluster.hosts (a)')
  assert.is(errorOf({ hosts: [{ name: '*', clients: 1 }, { name: 'b', clients: 1 }] }), 'cluster.hosts: * (any node) works only as the single host')
  assert.is(errorOf({ hosts: [host], admin_port: 70000 }), 'cluster.admin_port: expected a number in [1, 65535], got 70000')
  assert.is(errorOf({ hosts: [host], admin_port: 6969 }), 'cluster.admin_port: 6969 is also the tracker\'s port on a')
  assert.is(errorOf({ hosts: [host], state_dir: 'runs' }), 'cluster.state_dir: expected an absolute path, got "runs"')
  assert.is(errorOf({ hosts: [host], restart: { condition: 'always' } }), 'cluster.restart.condition: expected one of any, on-failure, none, got "always"')
  assert.is(errorOf({ hosts: 'a' }), 'cluster.hosts: expected a list of at most 1000 items')
  assert.is(errorOf({ hosts: [host], extra: 1 }), 'cluster.extra: unknown field')
  assert.is(errorOf({ hosts: [host], publish_admin: 'maybe' }), 'cluster.publish_admin: expected one of yes, no, got "maybe"')
  assert.is(errorOf({ hosts: [host], memory_mb: { client: -1 } }), 'cluster.memory_mb.client: expected a number in [0, 16777216], got -1')
  assert.is(errorOf({ hosts: [host], memory_mb: { gpu: 1 } }), 'cluster.memory_mb.gpu: unknown field')
})

const validator = ['docker', '/usr/bin/docker'].find(bin => spawnSync(bin, ['stack', 'config', '--help'], { stdio: 'ignore' }).status === 0)
if (validator == null) console.log('SKIP `docker stack config` needs a docker CLI that has it (Debian bookworm\'s 20.10 does not)')
const maybe = validator == null ? test.skip : test
maybe('docker stack config accepts both generated files', async () => {
  assert.ok(validator != null)
  const dir = mkdtempSync(join(tmpdir(), 'btps-stack-'))
  try {
    for (const file of ['configs/cluster.yml', 'configs/single-host.yml']) {
      const config = await loadConfig({ file })
      const out = join(dir, 'stack.yml')
      const psk = join(dir, 'job.swarm.key')
      writeFileSync(psk, 'key')
      writeFileSync(out, stackYaml(config, parseClusterConfig((await readConfigFile(file)).cluster, config), file, psk, SERVER))
      const r = spawnSync(validator, ['stack', 'config', '-c', out], { encoding: 'utf8' })
      assert.is(r.status, 0, `${file}: ${r.stderr}`)
      const resolved = parseYaml(r.stdout) as { services: Record<string, unknown> }
      assert.is(Object.keys(resolved.services).length, (await loadConfig({ file })).job.clients + 2)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
