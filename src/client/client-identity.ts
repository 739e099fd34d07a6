import type { ClientState } from '../control/status.js'
import type { Logger } from '../logger.js'
import type { Dataset } from '../training/mnist.js'
import type { Device } from './device.js'

export interface Task { round: number, controller: AbortController, done: Promise<void> }

/**
 * One client of the job as the server sees it: its id, data partition, device profile and round task. A client
 * process runs one of them (`bt-ps client`) or many (`bt-ps clients`), all behind its one libp2p and BitTorrent peer.
 */
export interface ClientIdentity {
  clientId: string
  log: Logger
  state: ClientState
  partitionIndex: number
  data?: Dataset
  /** the device profile it plays (`job.profiles`) */
  device?: Device
  /** the newest round it was selected for */
  lastRound: number
  task?: Task
}

/** The first of 3 or more digits keeps ids sorted as numbers: client-a-001 ... client-a-250. */
export function identityIds (prefix: string, count: number): string[] {
  const width = Math.max(3, String(count).length)
  return Array.from({ length: count }, (_v, i) => `${prefix}-${String(i + 1).padStart(width, '0')}`)
}
