import { SCHEMA } from '../config/schema.js'
import { InvalidInputError } from '../errors.js'
import { JOB_FLAGS, ROLE_FLAGS } from './args.js'

const ADMIN = ['--server', '--token', '--token-file']
const CONFIG_FIELDS = Object.entries(SCHEMA).flatMap(([section, fields]) => Object.keys(fields).map(k => `--${section}.${k}`))
const roleFlags = (table: Record<string, string>): string[] => [...Object.keys(table).map(f => `--${f}`), '--config', ...CONFIG_FIELDS]

/** Every command, its subcommands and its flags, as completion offers them. */
export const COMMAND_LINE: Record<string, { subcommands?: string[], flags: string[] }> = {
  up: { flags: [...roleFlags(JOB_FLAGS), '--log-dir', '--clients-per-process'] },
  tracker: { flags: roleFlags(ROLE_FLAGS.tracker) },
  server: { flags: [...roleFlags(ROLE_FLAGS.server), '--start-rounds'] },
  client: { flags: roleFlags(ROLE_FLAGS.client) },
  clients: { flags: roleFlags(ROLE_FLAGS.clients) },
  round: { flags: [...ADMIN, '--rounds', '--wait', '--json'] },
  stop: { flags: [...ADMIN, '--now', '--json'] },
  status: { flags: [...ADMIN, '--json'] },
  logs: { subcommands: ['export', 'follow', 'plot'], flags: ['--format', '--json', '--runs', '--out', '-o', '--rounds', ...ADMIN] },
  stack: { subcommands: ['secrets', 'generate', 'deploy', 'rm', 'ps'], flags: ['--config', '--out', '-o', '--name', '--json', ...CONFIG_FIELDS.filter(f => f.startsWith('--job.')), '--cluster.'] },
  config: { subcommands: ['schema'], flags: [] },
  completion: { subcommands: ['bash', 'zsh'], flags: [] },
  help: { subcommands: [], flags: [] }
}

function bash (): string {
  const cases = Object.entries(COMMAND_LINE).map(([cmd, c]) =>
    `    ${cmd}) subs="${(c.subcommands ?? []).join(' ')}"; flags="${c.flags.join(' ')}" ;;`).join('\n')
  return `# bash completion for bt-ps: eval "$(bt-ps completion bash)" (or save it under /etc/bash_completion.d/)
_bt_ps() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd=\${COMP_WORDS[1]} subs flags
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${Object.keys(COMMAND_LINE).join(' ')} --help --version" -- "$cur")); return
  fi
  case "$cmd" in
${cases}
    *) return ;;
  esac
  if [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ] && [[ "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur")); return
  fi
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
    --config|--out|-o|--token-file|--runs|--log-dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
}
complete -o default -F _bt_ps bt-ps
`
}

function zsh (): string {
  const cases = Object.entries(COMMAND_LINE).map(([cmd, c]) =>
    `    ${cmd}) subs=(${(c.subcommands ?? []).join(' ')}); flags=(${c.flags.join(' ')}) ;;`).join('\n')
  return `#compdef bt-ps
# zsh completion for bt-ps: eval "$(bt-ps completion zsh)" after compinit (or save it as _bt-ps on $fpath)
_bt_ps() {
  local -a subs flags
  if (( CURRENT == 2 )); then
    compadd -- ${Object.keys(COMMAND_LINE).join(' ')} --help --version; return
  fi
  case $words[2] in
${cases}
    *) return ;;
  esac
  if (( CURRENT == 3 )) && (( $#subs )) && [[ $PREFIX != -* ]]; then
    compadd -- $subs; return
  fi
  case $words[CURRENT-1] in
    --config|--out|-o|--token-file|--runs|--log-dir) _files; return ;;
  esac
  compadd -- $flags --help
}
compdef _bt_ps bt-ps
`
}

/** `bt-ps completion bash|zsh`: a completion script on stdout. */
export function completionScript (shell: string | undefined): string {
  if (shell === 'bash') return bash()
  if (shell === 'zsh') return zsh()
  throw new InvalidInputError('USAGE', 'completion', `expected bash or zsh, got ${JSON.stringify(shell ?? '')}`)
}
