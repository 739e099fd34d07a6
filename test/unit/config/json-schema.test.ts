import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { jobFileSchema } from '../../../src/config/json-schema.js'
import { readConfigFile } from '../../../src/config/load.js'

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(jobFileSchema())
const errors = (doc: unknown): string[] => validate(doc) ? [] : (validate.errors ?? []).map(e => `${e.instancePath} ${e.message ?? ''}`)

test('every shipped job file passes the schema `bt-ps config schema` prints', async () => {
  for (const name of readdirSync('configs').filter(f => f.endsWith('.yml'))) {
    assert.equal(errors(await readConfigFile(join('configs', name))), [], name)
  }
})

test('the schema catches what the loader refuses: unknown fields, out-of-range and wrong-type values', () => {
  assert.equal(errors({ job: { clients: 0 } }), ['/job/clients must be >= 1'])
  assert.equal(errors({ job: { transfer: 'ftp' } }), ['/job/transfer must be equal to one of the allowed values'])
  assert.equal(errors({ job: { lr: 0.1 } }), ['/job must NOT have additional properties'])
  assert.equal(errors({ cluster: { hosts: [{ name: 'a', clients: 'two' }] } }), ['/cluster/hosts/0/clients must be integer'])
})

test.run()
