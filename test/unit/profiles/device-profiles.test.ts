import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isOnline, loadProfiles, profileFor } from '../../../src/profiles/device-profiles.js'

const dir = mkdtempSync(join(tmpdir(), 'btps-profiles-'))
const file = (name: string, text: string): string => { writeFileSync(join(dir, name), text); return join(dir, name) }
const message = (fn: () => unknown): string => { try { fn() } catch (err) { return (err as Error).message } return 'no error' }

test('bt-ps JSON: profiles by name, clients assigned by id, the rest drawn by the job seed', () => {
  const t = loadProfiles(file('p.json', JSON.stringify({
    profiles: [{ name: 'fast', compute_ms_per_sample: 0.5, uplink_kbps: 20000, downlink_kbps: 50000 }, { name: 'slow', compute_ms_per_sample: 5, uplink_kbps: 2000, downlink_kbps: 5000, online: [[0, 60], [120, 180]], cycle_s: 240 }],
    clients: { 'client-1': 'slow' }
  })))
  assert.equal(profileFor(t, 'client-1', 1), { name: 'slow', computeMsPerSample: 5, uplinkKbps: 2000, downlinkKbps: 5000, online: [[0, 60], [120, 180]], cycleS: 240 })
  const drawn = Array.from({ length: 200 }, (_v, i) => profileFor(t, `c${i}`, 7).name)
  assert.equal(drawn, Array.from({ length: 200 }, (_v, i) => profileFor(t, `c${i}`, 7).name), 'stable for a seed')
  assert.ok(drawn.filter(n => n === 'fast').length > 60 && drawn.filter(n => n === 'slow').length > 60, 'both profiles drawn')
  assert.not.equal(drawn, Array.from({ length: 200 }, (_v, i) => profileFor(t, `c${i}`, 8).name), 'another seed, another draw')
})

test('FedScale traces: device capacity (ms per sample, kbps) and behaviour (active/inactive) in one entry', () => {
  const t = loadProfiles(file('fedscale.json', JSON.stringify({
    1: { computation: 12.5, communication: 3500 },
    2: { computation: 80, communication: 700, active: [0, 500], inactive: [100, 900], finish_time: 1000 }
  })))
  assert.equal(t.profiles, [
    { name: '1', computeMsPerSample: 12.5, uplinkKbps: 3500, downlinkKbps: 3500 },
    { name: '2', computeMsPerSample: 80, uplinkKbps: 700, downlinkKbps: 700, online: [[0, 100], [500, 900]], cycleS: 1000 }
  ])
  const p = t.profiles[1]
  assert.equal([0, 99, 100, 499, 500, 950, 1050, 1150].map(s => isOnline(p, s)), [true, true, false, false, true, false, true, false])
})

test('CSV with a header; bad values and unknown profile names are named', () => {
  const t = loadProfiles(file('p.csv', 'name,compute_ms_per_sample,uplink_kbps,downlink_kbps,online,cycle_s\n# a comment\nphone,4,1000,4000,0-30;60-90,120\nlaptop,1,,,,\n'))
  assert.equal(t.profiles, [{ name: 'phone', computeMsPerSample: 4, uplinkKbps: 1000, downlinkKbps: 4000, online: [[0, 30], [60, 90]], cycleS: 120 }, { name: 'laptop', computeMsPerSample: 1 }])
  assert.match(message(() => loadProfiles(file('bad.csv', 'name,uplink_kbps\nphone,fast\n'))), /job\.profiles \(.*bad\.csv\):2 uplink_kbps: "fast" is not a number ≥ 1/)
  assert.match(message(() => loadProfiles(file('bad.json', JSON.stringify({ profiles: [{ name: 'a' }], clients: { x: 'b' } })))), /\.clients\.x: names profile "b", which the file does not define/)
  assert.match(message(() => loadProfiles(file('bad2.json', JSON.stringify({ profiles: [{ name: 'a', online: [[5, 1]] }] })))), /profiles\[0\]\.online: expected a list of \[from, to\] pairs/)
  assert.match(message(() => loadProfiles(join(dir, 'missing.json'))), /job\.profiles \(.*missing\.json\): ENOENT/)
})

test.after(() => { rmSync(dir, { recursive: true, force: true }) })
test.run()
