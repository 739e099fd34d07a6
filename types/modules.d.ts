// webtorrent 3, bittorrent-tracker and memory-chunk-store ship no types; bt-ps uses the parts declared here.
declare module 'webtorrent' {
  import type { EventEmitter } from 'node:events'
  export interface Wire extends EventEmitter {
    peerId: string
    remoteAddress: string
    remotePort: number
    downloaded: number
    uploaded: number
    destroy: () => void
  }
  export interface TorrentFile { name: string, length: number, arrayBuffer: () => Promise<ArrayBuffer> }
  export interface Torrent extends EventEmitter {
    infoHash: string
    magnetURI: string
    torrentFile: Uint8Array
    pieceLength: number
    pieces: unknown[]
    length: number
    uploaded: number
    downloaded: number
    received: number
    progress: number
    done: boolean
    wires: Wire[]
    files: TorrentFile[]
    numPeers: number
    addPeer: (addr: string) => boolean
    destroy: (opts?: { destroyStore?: boolean }, cb?: (err?: Error) => void) => void
  }
  export interface ClientOptions {
    dht?: boolean
    lsd?: boolean
    natUpnp?: boolean
    natPmp?: boolean
    utp?: boolean
    webSeeds?: boolean
    torrentPort?: number
    tracker?: Record<string, unknown> | boolean
    maxConns?: number
    uploadLimit?: number
  }
  export interface AddOptions { announce?: string[], store?: unknown, name?: string, pieceLength?: number, createdBy?: string, private?: boolean, strategy?: string }
  export default class WebTorrent extends EventEmitter {
    constructor (opts?: ClientOptions)
    peerId: string
    torrentPort: number
    torrents: Torrent[]
    address: () => { address: string, port: number } | null
    seed: (input: Uint8Array, opts: AddOptions, onseed?: (t: Torrent) => void) => Torrent
    add: (id: string | Uint8Array, opts: AddOptions, ontorrent?: (t: Torrent) => void) => Torrent
    get: (id: string) => Promise<Torrent | null>
    remove: (id: string | Torrent, opts?: { destroyStore?: boolean }, cb?: (err?: Error) => void) => Promise<void>
    destroy: (cb?: (err?: Error) => void) => void
  }
}

declare module 'bittorrent-tracker' {
  import type { EventEmitter } from 'node:events'
  import type { Server as HttpServer } from 'node:http'
  import type { Socket } from 'node:dgram'
  export interface ServerOptions { http?: boolean, udp?: boolean, ws?: boolean, stats?: boolean, interval?: number, trustProxy?: boolean, filter?: (infoHash: string, params: unknown, cb: (err: Error | null) => void) => void }
  export class Server extends EventEmitter {
    constructor (opts?: ServerOptions)
    http: HttpServer | null
    udp4: Socket | null
    udp6: Socket | null
    listening: boolean
    torrents: Record<string, { peers: { length: number }, complete: number, incomplete: number }>
    close: (cb?: () => void) => void
  }
}

declare module 'memory-chunk-store' {
  const MemoryChunkStore: unknown
  export default MemoryChunkStore
}

declare module 'parse-torrent' {
  export interface ParsedTorrent { infoHash: string, name?: string, length?: number, pieceLength?: number, lastPieceLength?: number, pieces?: string[], announce?: string[], private?: boolean }
  export default function parseTorrent (input: Uint8Array | string): Promise<ParsedTorrent>
}
