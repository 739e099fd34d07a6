import { createHash } from 'node:crypto'
import WebTorrent from 'webtorrent'
import type { Torrent, Wire } from 'webtorrent'
import MemoryChunkStore from 'memory-chunk-store'
import { BtpsError } from '../errors.js'
import type { Logger } from '../logger.js'
import { choosePieceLength } from './piece-length.js'

export interface SeedInfo { infoHash: string, magnet: string, pieceLength: number, pieces: number, bytes: number, torrentFile: Uint8Array }
export interface DownloadResult { bytes: Uint8Array, seconds: number, fromServer: number, fromPeers: number, /** pieces that failed their SHA-1 and were fetched again */ hashFailures: number }
export interface SwarmPeerInit { announce: string[], log: Logger, port?: number, /** bytes/s, all torrents together */ uploadLimit?: number }

/**
 * One BitTorrent peer (webtorrent over TCP, no DHT/LSD/UPnP: the tracker is the only discovery) that seeds
 * models from memory and downloads them rarest-first from everyone in the swarm, verifying every piece.
 */
export class SwarmPeer {
  private client?: WebTorrent
  private readonly init: SwarmPeerInit

  constructor (init: SwarmPeerInit) {
    this.init = init
  }

  async start (): Promise<void> {
    if (this.client != null) return
    const client = new WebTorrent({ dht: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false, torrentPort: this.init.port ?? 0, uploadLimit: this.init.uploadLimit != null && this.init.uploadLimit > 0 ? this.init.uploadLimit : -1 })
    client.on('error', (err: unknown) => { this.init.log.warn('bittorrent client error', { err }) })
    this.client = client
    await new Promise<void>(resolve => {
      if (client.address() != null) resolve()
      else client.once('listening', () => { resolve() })
    })
  }

  get peerId (): string { return this.need().peerId }
  get port (): number { return this.need().address()?.port ?? this.need().torrentPort }

  private need (): WebTorrent {
    if (this.client == null) throw new BtpsError('NOT_STARTED', 'swarm peer is not started')
    return this.client
  }

  /** Seeds `bytes` from memory as a v1 torrent with one file `name` (piece length chosen from the size unless given). */
  async seed (bytes: Uint8Array, name: string, pieceLength = choosePieceLength(bytes.byteLength)): Promise<SeedInfo> {
    const torrent = await new Promise<Torrent>((resolve, reject) => {
      const t = this.need().seed(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { name, announce: this.init.announce, pieceLength, store: MemoryChunkStore, createdBy: 'bt-ps' }, resolve)
      t.once('error', reject)
      this.watch(t)
    })
    return { infoHash: torrent.infoHash, magnet: torrent.magnetURI, pieceLength, pieces: torrent.pieces.length, bytes: bytes.byteLength, torrentFile: torrent.torrentFile }
  }

  /**
   * Joins the swarm of `magnet` and resolves with the verified file. `serverPeerId` separates bytes that came
   * from the seeding server from bytes that came from other clients; `directPeers` are dialled without the tracker.
   */
  async download (magnet: string, opts: { sha256: string, serverPeerId?: string, directPeers?: string[], signal?: AbortSignal, onProgress?: (fraction: number) => void }): Promise<DownloadResult> {
    const start = performance.now()
    const fromWire = new Map<Wire, number>()
    const torrent = this.need().add(magnet, { announce: this.init.announce, store: MemoryChunkStore, strategy: 'rarest' })
    this.watch(torrent)
    let hashFailures = 0
    torrent.on('warning', (err: unknown) => { if (/failed verification/.test(String(err))) hashFailures++ })
    torrent.on('wire', (wire: Wire) => {
      fromWire.set(wire, 0)
      wire.on('download', (n: number) => { fromWire.set(wire, (fromWire.get(wire) ?? 0) + n) })
    })
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { reject(new BtpsError('ABORTED', 'download aborted')) }
        opts.signal?.addEventListener('abort', onAbort, { once: true })
        torrent.once('error', (err: unknown) => { reject(new BtpsError('DOWNLOAD_FAILED', `torrent: ${String(err)}`)) })
        torrent.once('done', () => { opts.signal?.removeEventListener('abort', onAbort); resolve() })
        torrent.on('download', () => { opts.onProgress?.(torrent.progress) })
        const addDirect = (): void => { for (const p of opts.directPeers ?? []) torrent.addPeer(p) }
        if (torrent.infoHash != null) addDirect()
        else torrent.once('infoHash', addDirect)
        if (opts.signal?.aborted === true) onAbort()
      })
      const bytes = new Uint8Array(await torrent.files[0].arrayBuffer())
      const digest = createHash('sha256').update(bytes).digest('hex')
      if (digest !== opts.sha256) throw new BtpsError('MODEL_HASH_MISMATCH', `downloaded model sha256 ${digest} != announced ${opts.sha256}`)
      let fromServer = 0
      let fromPeers = 0
      for (const [wire, n] of fromWire) {
        if (opts.serverPeerId != null && wire.peerId === opts.serverPeerId) fromServer += n
        else fromPeers += n
      }
      return { bytes, seconds: (performance.now() - start) / 1000, fromServer, fromPeers, hashFailures }
    } catch (err) {
      await this.remove(torrent.infoHash)
      throw err
    }
  }

  /** A torrent's later errors and warnings (a bad peer, a tracker down) are logged; an unheard 'error' would throw. */
  private watch (torrent: Torrent): void {
    torrent.on('error', (err: unknown) => { this.init.log.warn('torrent error', { infoHash: torrent.infoHash, err: String(err) }) })
    torrent.on('warning', (err: unknown) => { this.init.log.debug('torrent warning', { infoHash: torrent.infoHash, err: String(err) }) })
  }

  /** Bytes this peer has uploaded for one torrent. */
  uploaded (infoHash: string): number {
    return this.need().torrents.find(t => t.infoHash === infoHash)?.uploaded ?? 0
  }

  async remove (infoHash: string | undefined): Promise<void> {
    const client = this.client
    if (client == null || infoHash == null) return
    if (client.torrents.some(t => t.infoHash === infoHash)) {
      await new Promise<void>(resolve => { void client.remove(infoHash, { destroyStore: true }, () => { resolve() }) })
    }
  }

  async stop (): Promise<void> {
    const client = this.client
    this.client = undefined
    if (client != null) await new Promise<void>(resolve => { client.destroy(() => { resolve() }) })
  }
}
