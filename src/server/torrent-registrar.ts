import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { registrationProof, registrationUrl } from '../tracker/registration.js'

/** How often the live round's torrent is registered again: a tracker that restarted has forgotten it. */
const REFRESH_MS = 5000

/**
 * The server's side of a private tracker: registers each round's torrent before anyone announces it, and again
 * every few seconds while the round lasts. A tracker that cannot be reached costs nothing but the swarm: clients
 * still fetch the model from the server directly.
 */
export class TorrentRegistrar {
  private readonly announce: string[]
  private readonly psk: Uint8Array
  private readonly log: Logger
  private current?: string
  private timer?: NodeJS.Timeout
  /** the last failure per tracker, logged when it changes rather than every refresh */
  private readonly lastFailure = new Map<string, string>()

  constructor (announce: string[], psk: Uint8Array, log: Logger) {
    this.announce = announce
    this.psk = psk
    this.log = log
  }

  /** Registers `infoHash` with every tracker (waits at most 3 s) and keeps it registered until `forget`. */
  async register (infoHash: string): Promise<void> {
    this.current = infoHash
    clearInterval(this.timer)
    this.timer = setInterval(() => { if (this.current != null) void this.post(this.current) }, REFRESH_MS)
    this.timer.unref()
    await this.post(infoHash)
  }

  forget (infoHash: string | undefined): void {
    if (infoHash == null || infoHash !== this.current) return
    this.current = undefined
    clearInterval(this.timer)
  }

  stop (): void { this.forget(this.current) }

  private async post (infoHash: string): Promise<void> {
    await Promise.all(this.announce.map(async (tracker) => {
      const url = registrationUrl(tracker, infoHash)
      if (url == null) return this.failed(tracker, 'not an http:// or udp:// tracker with a port, so it takes no registrations')
      try {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${registrationProof(this.psk, infoHash)}` }, signal: AbortSignal.timeout(3000) })
        if (res.ok) {
          if (this.lastFailure.delete(tracker)) this.log.info('tracker takes registrations again', { tracker })
          return
        }
        const body = await res.text().catch(() => '')
        const reason = (/"error":"([^"]*)"/.exec(body)?.[1] ?? body.slice(0, 200)) || res.statusText
        this.failed(tracker, `HTTP ${res.status}: ${reason}`)
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code
        this.failed(tracker, cause != null ? `${errorMessage(err)} (${cause})` : errorMessage(err))
      }
    }))
  }

  private failed (tracker: string, reason: string): void {
    if (this.lastFailure.get(tracker) === reason) return
    this.lastFailure.set(tracker, reason)
    this.log.warn('tracker did not register the round\'s torrent; clients fall back to the server', { tracker, reason })
  }
}
