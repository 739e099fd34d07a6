import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultConfigFile } from '../../../src/config/load.js'

test('without --config: BTPS_CONFIG, then ./bt-ps.yml, else none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-cfg-'))
  try {
    assert.is(defaultConfigFile({}, dir), undefined, 'nothing to find')
    writeFileSync(join(dir, 'bt-ps.yml'), 'job: { rounds: 2 }\n')
    assert.is(defaultConfigFile({}, dir), join(dir, 'bt-ps.yml'))
    assert.is(defaultConfigFile({ BTPS_CONFIG: '/etc/bt-ps/job.yml' }, dir), '/etc/bt-ps/job.yml', 'the variable wins')
    assert.is(defaultConfigFile({ BTPS_CONFIG: '' }, dir), join(dir, 'bt-ps.yml'), 'an empty variable is unset')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
