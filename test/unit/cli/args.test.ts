import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseArgs } from '../../../src/cli/args.js'
import { InvalidInputError } from '../../../src/errors.js'

const usage = (argv: string[], booleans: string[] = []): string => {
  try { parseArgs(argv, 'round', booleans) } catch (err) { return err instanceof InvalidInputError ? err.message : `untyped: ${String(err)}` }
  return 'no error'
}

test('flags in every form: --name value, --name=value, -o FILE, booleans, --section.key, -- ends the flags', () => {
  const a = parseArgs(['generate', '--config', 'c.yml', '--rounds=3', '-o', 'out.yml', '--wait', '--job.local_epochs', '2', '--', '--not-a-flag'], 'stack', ['wait'])
  assert.equal(a.positional, ['generate', '--not-a-flag'])
  assert.equal(Object.fromEntries(a.flags), { config: 'c.yml', rounds: '3', out: 'out.yml', wait: true, 'job.local_epochs': '2' })
  assert.equal(Object.fromEntries(parseArgs(['--client.metrics_port=-1'], 'client').flags), { 'client.metrics_port': '-1' })
})

test('usage errors name the flag', () => {
  assert.is(usage(['--bogus', '1']), '--bogus: unknown flag for bt-ps round (see bt-ps round --help)')
  assert.is(usage(['--server']), '--server: needs a value (one that starts with - is written --server=VALUE)')
  assert.is(usage(['--server', '--wait'], ['wait']), '--server: needs a value (one that starts with - is written --server=VALUE)')
  assert.is(usage(['--wait=yes'], ['wait']), '--wait: takes no value')
  assert.is(usage(['-x']), '-x: unknown flag for bt-ps round (see bt-ps round --help)')
})

test.run()
