import { readEvents } from '../dashboard/event-stream.js'
import { readSecretFile } from '../secret-file.js'
import { BtpsError, InvalidInputError, errorMessage } from '../errors.js'
import type { StatusView } from '../server/admin-api.js'
import type { RoundsStopped } from '../server/parameter-server.js'

/** The CLI's side of the server's admin HTTP API. */
export class AdminClient {
  readonly base: string
  private readonly token?: string
  constructor (url: string, token?: string) {
    this.base = url.replace(/\/+$/, '')
    this.token = token
  }

  private async call (path: string, init?: RequestInit): Promise<unknown> {
    let res: Response
    try {
      const headers = { ...(init?.headers as Record<string, string> | undefined), ...(this.token != null ? { authorization: `Bearer ${this.token}` } : {}) }
      res = await fetch(this.base + path, { ...init, headers, signal: init?.signal ?? AbortSignal.timeout(10_000) })
    } catch (err) {
      throw new BtpsError('SERVER_UNREACHABLE', `cannot reach the server's admin API at ${this.base}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`)
    }
    const body = await res.json().catch(() => ({})) as { error?: string }
    if (!res.ok) throw new BtpsError('SERVER_ERROR', `${this.base}${path}: HTTP ${res.status}: ${body.error ?? 'no reason given'}`)
    return body
  }

  async status (): Promise<StatusView> {
    return await this.call('/api/status') as StatusView
  }

  /** Drops the queued rounds; with `now`, aborts the one in progress too. */
  async stopRounds (now: boolean): Promise<RoundsStopped> {
    return await this.call(`/api/rounds${now ? '?now=1' : ''}`, { method: 'DELETE' }) as RoundsStopped
  }

  /**
   * Follows GET /api/events (server-sent events) until `signal` aborts or the server closes the stream; calls
   * `onEvent` with each event's type and parsed data.
   */
  async follow (onEvent: (type: string, data: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<void> {
    let res: Response
    try {
      res = await fetch(this.base + '/api/events', { headers: this.token != null ? { authorization: `Bearer ${this.token}` } : {}, signal })
    } catch (err) {
      if (signal.aborted) return
      throw new BtpsError('SERVER_UNREACHABLE', `cannot reach the server's admin API at ${this.base}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`)
    }
    if (!res.ok || res.body == null) {
      const body = await res.json().catch(() => ({})) as { error?: string }
      throw new BtpsError('SERVER_ERROR', `${this.base}/api/events: HTTP ${res.status}: ${body.error ?? 'no reason given'}`)
    }
    onOpen?.()
    try {
      await readEvents(res.body, (type, data) => { onEvent(type, JSON.parse(data)) })
    } catch (err) {
      if (!signal.aborted) throw new BtpsError('SERVER_UNREACHABLE', `lost the server's event stream at ${this.base}: ${errorMessage(err)}`)
    }
  }

  async startRounds (count: number): Promise<{ first: number, last: number }> {
    return await this.call('/api/rounds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count }) }) as { first: number, last: number }
  }
}

/** The token in a file (as the server writes it); a missing or unreadable file names the flag it came from. */
export function readTokenFile (path: string, field = '--token-file'): string {
  try {
    return readSecretFile(path, 'the token file', 'USAGE').toString('utf8').trim()
  } catch (err) {
    throw new InvalidInputError('USAGE', field, errorMessage(err))
  }
}
