/**
 * Distribution lower bounds (Kumar & Ross 2006) for a file of F bytes, server upload u_s, N clients with upload
 * u_i and download d_i (bytes/s): the P2P minimum T_min = max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) and what a star
 * (the server sends every copy) needs: max(N·F/u_s, F/d_min).
 */
export interface Bounds { tMin: number, star: number }

export function distributionBounds (bytes: number, serverUp: number, clientsUp: readonly number[], clientsDown: readonly number[]): Bounds {
  const n = clientsUp.length
  const dMin = Math.min(...clientsDown)
  const tMin = Math.max(bytes / serverUp, bytes / dMin, n * bytes / (serverUp + clientsUp.reduce((a, b) => a + b, 0)))
  const star = Math.max(n * bytes / serverUp, bytes / dMin)
  return { tMin, star }
}

export const mbitToBytesPerS = (mbit: number): number => mbit * 1e6 / 8

/**
 * The share of a capped link's rate that TCP payload can use: a full packet carries MTU − 52 bytes of data (IPv4 and
 * TCP headers with timestamps) in MTU + 14 bytes counted by the cap (the Ethernet header too). No transport over TCP
 * beats T_min divided by it; one flow through the bench's 20 Mbit/s link measured 95.6% at MTU 1500, 99.3% at 9000.
 */
export function tcpPayloadShare (mtu: number): number {
  return (mtu - 52) / (mtu + 14)
}

/**
 * Upload phase lower bound: the server must take in at least one model's worth of update bytes (the aggregate, or
 * its shards) and every client must send at least F (its update, or its shards to the others and to the server),
 * so T ≥ F / min(d_s, u_min) however the updates are reduced. Bytes, bytes/s.
 */
export function uploadBound (bytes: number, serverDown: number, clientsUp: readonly number[]): number {
  return bytes / Math.min(serverDown, ...clientsUp)
}

/** Upload phase when every client sends its whole update to the server (a star): max(N·F/d_s, F/u_min). */
export function directUploadBound (bytes: number, serverDown: number, clientsUp: readonly number[]): number {
  return Math.max(clientsUp.length * bytes / serverDown, bytes / Math.min(...clientsUp))
}
