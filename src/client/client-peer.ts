import { createHash } from 'node:crypto'
import type * as TF from '@tensorflow/tfjs'
import type { Connection, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Config } from '../config/schema.js'
import { BtpsError, errorMessage, isCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { childController, lifetimeController, sleep, withTimeout } from '../abort.js'
import { buildModel, readWeights, writeWeights } from '../model/architectures.js'
import { parseModel, parseModelHeader, serializeModel } from '../model/serialize.js'
import { acceptOnlyFrom, createControlNode } from '../net/node.js'
import { loadPsk } from '../net/psk.js'
import { releasePeerParts } from '../net/peer-parts.js'
import type { ControlNode } from '../net/node.js'
import { framed } from '../net/frames.js'
import { LOGIN_PROTOCOL, login } from '../control/login.js'
import { MODEL_PROTOCOL, fetchModel } from '../control/model.js'
import { RECEIPT_PROTOCOL, sendReceipt } from '../control/receipt.js'
import type { ClientReport } from '../control/report.js'
import { ROUND_PROTOCOL, parseRoundMessage, readRoundNotice, roundsTopic } from '../control/round.js'
import type { RoundAnnouncement } from '../control/round.js'
import { STATUS_PROTOCOL, encodeHeartbeat, sendHeartbeat, statusTopic } from '../control/status.js'
import type { ClientState } from '../control/status.js'
import { UPDATE_PROTOCOL, sendUpdate } from '../control/update.js'
import { SwarmPeer } from '../swarm/swarm-peer.js'
import { chooseBackend } from '../training/backend.js'
import type { Backend } from '../training/backend.js'
import { loadMnist, subset } from '../training/mnist.js'
import type { Dataset } from '../training/mnist.js'
import { partition } from '../training/partition.js'
import { trainLocal } from '../training/trainer.js'
import { serverAddress } from './server-address.js'

interface Task { round: number, controller: AbortController, done: Promise<void> }
interface Held { downloadS: number, heldAt: number, fromServer: number, fromPeers: number }

/**
 * A client peer: logs in to the job's server, and for every round it is selected for downloads the model
 * (from the swarm, or directly in `ps` mode), trains on its partition, sends its update and seeds meanwhile.
 */
export class ClientPeer {
  readonly clientId: string
  state: ClientState = 'idle'
  partitionIndex = -1

  /** This client's libp2p identity and listening addresses (empty before start). */
  get peerId (): string { return this.node?.peerId.toString() ?? '' }
  get multiaddrs (): string[] { return this.node?.getMultiaddrs().map(String) ?? [] }
  backend?: Backend
  private readonly config: Config
  private readonly log: Logger
  private node?: ControlNode
  private swarm?: SwarmPeer
  private serverPeer?: PeerId
  /** peers that sent round messages without being the server (logged once each) */
  private readonly impostors = new Set<string>()
  private serverHost = '127.0.0.1'
  private model?: TF.Sequential
  private data?: Dataset
  private task?: Task
  private lastRound = 0
  private heartbeat?: NodeJS.Timeout
  private controller = lifetimeController()
  private started = false

  constructor (components: { log: Logger }, config: Config) {
    this.config = config
    this.log = components.log
    this.clientId = config.client.id !== '' ? config.client.id : `client-${process.pid}`
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.controller = lifetimeController()
    const { job, client } = this.config
    try {
      if (job.task === 'train') {
        this.backend = await chooseBackend(client.backend, job.model, this.log)
        this.log.info('training backend', { backend: this.backend.name, detail: this.backend.detail })
        this.model = buildModel(this.backend.tf, job.model, job.seed, { hiddenUnits: job.hiddenUnits })
      }
      this.swarm = new SwarmPeer({ announce: [this.config.tracker.url], log: this.log.child({ component: 'swarm' }) })
      await this.swarm.start()
      const node = await createControlNode({ host: client.host, port: 0, psk: job.pskFile !== '' ? loadPsk(job.pskFile, { create: false }) : undefined })
      this.node = node
      node.services.pubsub.subscribe(roundsTopic(job.id))
      acceptOnlyFrom(node, roundsTopic(job.id), () => this.serverPeer, (from) => { this.noteImpostor(from) })
      node.services.pubsub.addEventListener('message', (evt) => { this.onGossip(evt.detail) })
      await node.handle(ROUND_PROTOCOL, async (stream, conn) => {
        try {
          const message = await withTimeout(this.controller.signal, 10_000, async signal => await readRoundNotice(framed(stream), signal))
          this.onRoundMessage(conn.remotePeer, message)
        } catch (err) {
          this.log.warn('dropped round notice', { peer: conn.remotePeer.toString(), reason: errorMessage(err) })
        }
        await stream.close().catch(() => {})
      })
      node.addEventListener('peer:disconnect', (evt) => {
        if (this.serverPeer != null && evt.detail.equals(this.serverPeer) && !this.controller.signal.aborted) {
          this.log.warn('lost the server; reconnecting')
          void this.connect().catch((err: unknown) => { if (!this.controller.signal.aborted) this.log.error('reconnect failed', { reason: errorMessage(err) }) })
        }
      })
      await this.connect()
      this.heartbeat = setInterval(() => { this.publishStatus() }, client.heartbeatS * 1000)
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Dials the server until it answers, then logs in; loads this client's data partition on the first login. */
  private async connect (): Promise<void> {
    const node = this.need(this.node)
    const addr = multiaddr(serverAddress(this.config.client.server))
    let conn: Connection | undefined
    for (let attempt = 0; conn == null; attempt++) {
      try {
        conn = await withTimeout(this.controller.signal, 5000, async signal => await node.dial(addr, { signal }))
      } catch (err) {
        if (this.controller.signal.aborted) throw err
        if (attempt % 10 === 0) this.log.info('waiting for the server', { addr: addr.toString(), reason: errorMessage(err) })
        await sleep(Math.min(2000, 200 * (attempt + 1)), this.controller.signal)
      }
    }
    this.serverPeer = conn.remotePeer
    this.serverHost = /\/ip[46]\/([^/]+)/.exec(conn.remoteAddr.toString())?.[1] ?? this.serverHost
    const stream = await conn.newStream(LOGIN_PROTOCOL, { signal: this.controller.signal })
    const res = await login(framed(stream), { clientId: this.clientId, backend: this.backend?.name ?? 'none' }, this.controller.signal)
    await stream.close().catch(() => {})
    if (!res.ok) throw new BtpsError('LOGIN_REFUSED', `server refused login: ${res.reason}`)
    if (res.jobId !== this.config.job.id) throw new BtpsError('LOGIN_REFUSED', `server runs job ${res.jobId}, not ${this.config.job.id}`)
    if (this.config.job.task === 'train' && (this.data == null || this.partitionIndex !== res.partition)) this.loadPartition(res.partition, res.partitions)
    this.partitionIndex = res.partition
    // A server that restarted from its checkpoint runs its unfinished round again under the same number.
    if (res.round < this.lastRound) {
      this.task?.controller.abort()
      this.lastRound = res.round
    }
    this.log.info('logged in', { server: this.serverPeer.toString(), partition: res.partition, samples: this.data?.size, round: res.round })
    this.publishStatus()
  }

  private loadPartition (index: number, count: number): void {
    const { job } = this.config
    const { train } = loadMnist({ trainSamples: job.trainSamples, testSamples: job.testSamples, seed: job.seed })
    const parts = partition(train.y, { kind: job.partition, clients: count, seed: job.seed, alpha: job.alpha })
    this.data = subset(train, parts[index])
  }

  private need<T> (v: T | undefined): T {
    if (v == null) throw new BtpsError('NOT_STARTED', 'client is not started')
    return v
  }

  private publishStatus (): void {
    const node = this.node
    if (node == null) return
    const hb = encodeHeartbeat({ clientId: this.clientId, state: this.state, round: this.task?.round ?? this.lastRound })
    node.services.pubsub.publish(statusTopic(this.config.job.id), hb).catch(() => {})
    const server = this.serverPeer
    if (server == null) return
    void (async () => {
      const stream = await withTimeout(this.controller.signal, 5000, async signal => await node.dialProtocol(server, STATUS_PROTOCOL, { signal }))
      await sendHeartbeat(framed(stream), hb)
      await stream.close()
    })().catch((err: unknown) => { this.log.debug('heartbeat not delivered', { reason: errorMessage(err) }) })
  }

  private setState (state: ClientState): void {
    this.state = state
    this.publishStatus()
  }

  private onGossip (msg: { topic: string, type: string, from?: PeerId, data: Uint8Array }): void {
    if (msg.topic !== roundsTopic(this.config.job.id) || msg.type !== 'signed' || msg.from == null) return
    this.onRoundMessage(msg.from, msg.data)
  }

  /** Logs a peer that sent round messages without being the server: once, not once per message it sends. */
  private noteImpostor (from: PeerId | undefined): void {
    const peer = from?.toString() ?? 'unsigned'
    if (this.serverPeer == null || this.impostors.has(peer) || this.impostors.size >= 100) return
    this.impostors.add(peer)
    this.log.warn('ignored round message not signed by the job\'s server', { peer, server: this.serverPeer.toString() })
  }

  /** A round message from gossip (`from` is its signer) or a direct stream (`from` is the authenticated peer). */
  private onRoundMessage (from: PeerId, data: Uint8Array): void {
    // Only the job's server may steer rounds.
    if (this.serverPeer == null || !from.equals(this.serverPeer)) { this.noteImpostor(from); return }
    let m
    try {
      m = parseRoundMessage(data)
    } catch (err) {
      this.log.warn('dropped malformed round message', { reason: errorMessage(err) })
      return
    }
    if (m.jobId !== this.config.job.id) return
    if (m.type === 'round-end') {
      if (this.task?.round === m.round) this.task.controller.abort()
      return
    }
    if (m.round <= this.lastRound || !m.selected.includes(this.clientId) || Date.now() > m.deadline) return
    this.lastRound = m.round
    this.task?.controller.abort()
    const { controller, release } = childController(this.controller.signal)
    const task: Task = { round: m.round, controller, done: Promise.resolve() }
    task.done = this.runRound(m, controller.signal)
      .catch((err: unknown) => {
        if (isCode(err, 'ABORTED') || controller.signal.aborted) this.log.info('round abandoned', { round: m.round, reason: errorMessage(err) })
        else this.log.error('round failed', { round: m.round, reason: errorMessage(err) })
      })
      .finally(() => { release(); if (this.task === task) { this.task = undefined; this.setState('idle') } })
    this.task = task
  }

  private async fetchDirect (ann: RoundAnnouncement, signal: AbortSignal): Promise<Uint8Array> {
    const stream = await this.need(this.node).dialProtocol(this.need(this.serverPeer), MODEL_PROTOCOL, { signal })
    const bytes = await fetchModel(framed(stream), { jobId: ann.jobId, round: ann.round }, ann.bytes, signal)
    await stream.close().catch(() => {})
    const digest = createHash('sha256').update(bytes).digest('hex')
    if (digest !== ann.sha256) throw new BtpsError('MODEL_HASH_MISMATCH', `model from the server has sha256 ${digest}, announced ${ann.sha256}`)
    return bytes
  }

  private async runRound (ann: RoundAnnouncement, signal: AbortSignal): Promise<void> {
    const swarm = this.need(this.swarm)
    this.setState('downloading')
    const t0 = performance.now()
    let bytes: Uint8Array
    let fromServer = ann.bytes
    let fromPeers = 0
    if (ann.transfer === 'bt' && ann.magnet != null) {
      const got = await swarm.download(ann.magnet, { sha256: ann.sha256, serverPeerId: ann.serverPeerId, directPeers: ann.serverPort != null ? [`${this.serverHost}:${ann.serverPort}`] : [], signal })
      bytes = got.bytes
      fromServer = got.fromServer
      fromPeers = got.fromPeers
      if (got.hashFailures > 0) this.log.warn('pieces failed verification and were fetched again', { round: ann.round, pieces: got.hashFailures })
    } else {
      bytes = await this.fetchDirect(ann, signal)
    }
    const infoHash = /xt=urn:btih:([0-9a-fA-F]{40})/.exec(ann.magnet ?? '')?.[1]?.toLowerCase()
    try {
      const got: Held = { downloadS: (performance.now() - t0) / 1000, heldAt: Date.now(), fromServer, fromPeers }
      const { header } = parseModelHeader(bytes)
      if (header.round !== ann.round || header.jobId !== ann.jobId) throw new BtpsError('MODEL_MISMATCH', `model file is ${header.jobId} round ${header.round}, announced ${ann.jobId} round ${ann.round}`)
      if (this.config.job.task === 'distribute') await this.confirmHeld(ann, got, swarm, infoHash, signal)
      else await this.trainAndUpdate(ann, bytes, got, swarm, infoHash, signal)
    } finally {
      await swarm.remove(infoHash)
    }
  }

  /** Distribution-only round: tell the server the model is here, then keep seeding until the round ends. */
  private async confirmHeld (ann: RoundAnnouncement, got: Held, swarm: SwarmPeer, infoHash: string | undefined, signal: AbortSignal): Promise<void> {
    const stream = await this.need(this.node).dialProtocol(this.need(this.serverPeer), RECEIPT_PROTOCOL, { signal })
    const ack = await sendReceipt(framed(stream), { jobId: ann.jobId, round: ann.round, clientId: this.clientId, report: this.report(got, swarm, infoHash, { computeS: 0, utility: 0, meanLoss: 0 }) }, signal)
    await stream.close().catch(() => {})
    this.setState('idle')
    this.log.info('holds the model', { round: ann.round, seconds: got.downloadS.toFixed(2), accepted: ack.accepted, reason: ack.reason })
    await sleep(Math.max(0, ann.deadline - Date.now()), signal).catch(() => {})
  }

  private report (got: Held, swarm: SwarmPeer, infoHash: string | undefined, training: { computeS: number, utility: number, meanLoss: number }): ClientReport {
    return {
      downloadS: got.downloadS,
      heldAt: got.heldAt,
      bytesFromServer: got.fromServer,
      bytesFromPeers: got.fromPeers,
      bytesUploadedToPeers: infoHash != null ? swarm.uploaded(infoHash) : 0,
      backend: this.backend?.name ?? 'none',
      ...training
    }
  }

  private async trainAndUpdate (ann: RoundAnnouncement, bytes: Uint8Array, got: Held, swarm: SwarmPeer, infoHash: string | undefined, signal: AbortSignal): Promise<void> {
    const { tf } = this.need(this.backend)
    const model = this.need(this.model)
    const log = this.log.child({ round: ann.round })
    const global = parseModel(bytes)
    writeWeights(tf, model, global.tensors)
    log.info('model received', { transfer: ann.transfer, seconds: got.downloadS.toFixed(2), fromPeersMB: (got.fromPeers / 1e6).toFixed(2), fromServerMB: (got.fromServer / 1e6).toFixed(2) })
    this.setState('training')
    const data = this.need(this.data)
    const result = await trainLocal(tf, this.config.job.model, model, data, { ...ann.hyper, epochs: ann.hyper.localEpochs, seed: this.config.job.seed + ann.round * 1000 + this.partitionIndex, signal }, global.tensors)
    log.info('trained', { samples: result.samples, loss: result.meanLoss.toFixed(4), seconds: result.seconds.toFixed(2) })
    this.setState('uploading')
    const update = serializeModel({ jobId: ann.jobId, round: ann.round }, await readWeights(model))
    const stream = await this.need(this.node).dialProtocol(this.need(this.serverPeer), UPDATE_PROTOCOL, { signal })
    const answer = await sendUpdate(framed(stream), {
      jobId: ann.jobId,
      round: ann.round,
      clientId: this.clientId,
      samples: result.samples,
      report: this.report(got, swarm, infoHash, { computeS: result.seconds, utility: result.utility, meanLoss: result.meanLoss })
    }, update, signal)
    await stream.close().catch(() => {})
    if (answer.accepted) log.info('update accepted')
    else log.warn('update refused', { reason: answer.reason })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller.abort()
    clearInterval(this.heartbeat)
    this.task?.controller.abort()
    await this.task?.done
    await releasePeerParts({ node: this.node, swarm: this.swarm, model: this.model })
    this.node = undefined
    this.swarm = undefined
    this.model = undefined
  }
}
