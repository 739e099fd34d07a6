import { InvalidInputError } from '../errors.js'

/** Accepts a multiaddr (/ip4/…/tcp/…, /dns4/…/tcp/…) or host:port and returns a multiaddr string. */
export function serverAddress (value: string): string {
  if (value.startsWith('/')) return value
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  if (m == null || Number(m[2]) > 65535) throw new InvalidInputError('CONFIG_INVALID', 'client.server', `expected host:port or a multiaddr, got ${JSON.stringify(value)}`)
  const host = m[1]
  const proto = host.startsWith('[') ? 'ip6' : /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ip4' : 'dns4'
  return `/${proto}/${host.replace(/^\[|\]$/g, '')}/tcp/${m[2]}`
}
