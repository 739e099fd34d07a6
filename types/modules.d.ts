// bittorrent-tracker and parse-torrent ship no types; bt-ps uses the parts declared here.
declare module 'bittorrent-tracker' {
  import type { EventEmitter } from 'node:events'
  import type { Server as HttpServer } from 'node:http'
  import type { Socket } from 'node:dgram'
  export interface ServerOptions { http?: boolean, udp?: boolean, ws?: boolean, stats?: boolean, interval?: number, trustProxy?: boolean, peersCacheLength?: number, peersCacheTtl?: number, filter?: (infoHash: string, params: unknown, cb: (err: Error | null) => void) => void }
  export class Server extends EventEmitter {
    constructor (opts?: ServerOptions)
    http: HttpServer | null
    udp4: Socket | null
    udp6: Socket | null
    listening: boolean
    torrents: Record<string, { peers: { length: number, keys: string[], peek: (key: string) => unknown }, complete: number, incomplete: number }>
    close: (cb?: () => void) => void
  }
  export interface ClientOptions { infoHash: string, peerId: string, announce: string[], port: number, getAnnounceOpts?: () => Record<string, number> }
  export class Client extends EventEmitter {
    constructor (opts: ClientOptions)
    start: () => void
    complete: () => void
    stop: () => void
    /** announces now, without an event (a regular re-announce) */
    update: () => void
    destroy: (cb?: () => void) => void
  }
}

declare module 'parse-torrent' {
  export interface ParsedTorrent { infoHash: string, name?: string, length?: number, pieceLength?: number, lastPieceLength?: number, pieces?: string[], announce?: string[], private?: boolean }
  export default function parseTorrent (input: Uint8Array | string): Promise<ParsedTorrent>
}
