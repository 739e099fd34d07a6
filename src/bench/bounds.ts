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
