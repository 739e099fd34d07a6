const MIN_PIECE = 64 * 1024
const MAX_PIECE = 4 * 1024 * 1024
const TARGET_PIECES = 2048

/** A power of two in [64 KiB, 4 MiB] giving at most ~2048 pieces. */
export function choosePieceLength (bytes: number): number {
  let piece = MIN_PIECE
  while (piece < MAX_PIECE && Math.ceil(bytes / piece) > TARGET_PIECES) piece *= 2
  return piece
}
