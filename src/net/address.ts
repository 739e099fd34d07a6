/** Loopback addresses: a local job runs every peer there, so per-address caps leave them alone. */
const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/

export function isLoopback (ip: string): boolean {
  return LOOPBACK.test(ip)
}

/** "::ffff:10.0.0.2" → "10.0.0.2": one host, one key, whichever socket family it came in on. */
export function plainIp (ip: string | undefined): string {
  const a = ip ?? ''
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

/** "ip:" for an "ip:port" address, with brackets around an IPv6 address ("[::1]:"). */
export function addressPrefix (ip: string): string {
  return ip.includes(':') ? `[${ip}]:` : `${ip}:`
}
