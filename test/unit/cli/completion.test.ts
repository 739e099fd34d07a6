import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { completionScript } from '../../../src/cli/completion.js'

/** Completes `words` (the last one being typed) with the bash script, as bash's completion would. */
function complete (words: string[]): string[] {
  const script = `${completionScript('bash')}\nCOMP_WORDS=(${words.map(w => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _bt_ps; printf '%s\\n' "\${COMPREPLY[@]}"`
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' })
  assert.is(r.status, 0, r.stderr)
  return r.stdout.split('\n').filter(l => l !== '')
}

test('bash completion: commands, subcommands, each command\'s flags and config fields', () => {
  assert.equal(complete(['bt-ps', 'st']), ['stop', 'status', 'stack'])
  assert.equal(complete(['bt-ps', 'logs', '']), ['export', 'follow', 'plot'])
  assert.ok(complete(['bt-ps', 'round', '--']).includes('--wait'))
  assert.equal(complete(['bt-ps', 'client', '--client.metrics']), ['--client.metrics_port'])
  assert.equal(complete(['bt-ps', 'completion', '']), ['bash', 'zsh'])
})

const noZsh = spawnSync('zsh', ['--version'], { stdio: 'ignore' }).error != null
if (noZsh) console.log('SKIP zsh -n: zsh is not installed')
const maybe = noZsh ? test.skip : test

maybe('the zsh script parses', () => {
  const zsh = spawnSync('zsh', ['-n'], { input: completionScript('zsh'), encoding: 'utf8' })
  assert.is(zsh.status, 0, zsh.stderr)
})

test.run()
