import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type * as TF from '@tensorflow/tfjs'
import type { Stream, Connection } from '@libp2p/interface'
import type { Config } from '../config/schema.js'
import { selectionSize } from '../config/parse.js'
import { BtpsError, InvalidInputError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { lifetimeController, sleep, withTimeout } from '../abort.js'
import { buildModel, modelLayout, readWeights, writeWeights } from '../model/architectures.js'
import { assertSameLayout, serializeModel } from '../model/serialize.js'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'
import { syntheticModel } from '../model/synthetic.js'
import { acceptOnlyFrom, createControlNode } from '../net/node.js'
import { releasePeerParts } from '../net/peer-parts.js'
import type { ControlNode } from '../net/node.js'
import { framed } from '../net/frames.js'
import { LOGIN_PROTOCOL, answerLogin, readLoginRequest } from '../control/login.js'
import { MODEL_PROTOCOL, readModelRequest, refuseModel, sendModel } from '../control/model.js'
import { RECEIPT_PROTOCOL, answerReceipt, readReceipt } from '../control/receipt.js'
import { ROUND_PROTOCOL, encodeRoundMessage, roundsTopic, sendRoundNotice } from '../control/round.js'
import type { RoundAnnouncement, RoundEnd } from '../control/round.js'
import { STATUS_PROTOCOL, parseHeartbeat, readHeartbeat, statusTopic } from '../control/status.js'
import { UPDATE_PROTOCOL, answerUpdate, readUpdate, readUpdateHeader } from '../control/update.js'
import { SwarmPeer } from '../swarm/swarm-peer.js'
import { RateLimiter } from '../net/rate-limiter.js'
import { chooseBackend } from '../training/backend.js'
import type { Backend } from '../training/backend.js'
import { loadMnist } from '../training/mnist.js'
import type { Dataset } from '../training/mnist.js'
import { evaluate } from '../training/trainer.js'
import { createRng, shuffleInPlace } from '../training/rng.js'
import { EventWriter } from '../metrics/event-writer.js'
import { CheckpointStore } from './checkpoint.js'
import { loadOrCreatePeerKey } from './peer-key.js'
import { loadPsk } from '../net/psk.js'
import type { Checkpoint } from './checkpoint.js'
import { ClientRegistry } from './client-registry.js'
import type { RoundResult } from './round-result.js'
import { UpdateIntake } from './update-intake.js'
import { roundScalars } from './scalars.js'
import { TorrentRegistrar } from './torrent-registrar.js'

export type ServerState = 'stopped' | 'idle' | 'waiting-for-clients' | 'round' | 'stopping'

/**
 * The server peer: holds the global model, admits clients, runs rounds (announce over gossipsub, distribute by
 * swarm or direct streams, take the first K updates before the deadline), aggregates, evaluates, checkpoints and logs.
 */
export class ParameterServer {
  state: ServerState = 'stopped'
  round = 0
  queued = 0
  /** The round the queued work runs to; survives restarts in the checkpoint. */
  private target = 0
  results: RoundResult[] = []
  backend?: Backend
  runDir = ''
  readonly config: Config
  private readonly log: Logger
  private node?: ControlNode
  private swarm?: SwarmPeer
  private registrar?: TorrentRegistrar
  private tf?: Backend['tf']
  private model?: TF.Sequential
  private weights: NamedTensor[] = []
  private layout: TensorEntry[] = []
  private test?: Dataset
  private writer?: EventWriter
  private checkpoints?: CheckpointStore
  private readonly registry: ClientRegistry
  private intake?: UpdateIntake
  private modelBlob?: Uint8Array
  private announcement?: RoundAnnouncement
  private psEgressBytes = 0
  private controller = lifetimeController()
  /** The same upload cap for both transfer modes, so they compare fairly. */
  private readonly uploadLimiter?: RateLimiter
  private loop?: Promise<void>

  constructor (components: { log: Logger }, config: Config) {
    this.config = config
    this.log = components.log
    if (config.server.uploadLimitMbit > 0) this.uploadLimiter = new RateLimiter(config.server.uploadLimitMbit * 1e6 / 8)
    this.registry = new ClientRegistry({ partitions: config.job.clients, staleMs: Math.max(10_000, config.client.heartbeatS * 5000) })
  }

  get peerId (): string { return this.need(this.node).peerId.toString() }
  get multiaddrs (): string[] { return this.need(this.node).getMultiaddrs().map(String) }
  get clients (): ReturnType<ClientRegistry['list']> { return this.registry.list() }
  get current (): { round: number, selected: string[], accepted: string[], magnet?: string, sha256?: string, deadline?: number } | undefined {
    const i = this.intake
    const a = this.announcement
    return i == null || i.closed ? undefined : { round: i.round, selected: [...i.selected], accepted: [...i.accepted], magnet: a?.magnet, sha256: a?.sha256, deadline: a?.deadline }
  }

  private need<T> (v: T | undefined): T {
    if (v == null) throw new BtpsError('NOT_STARTED', 'server is not started')
    return v
  }

  async start (): Promise<void> {
    if (this.state !== 'stopped') return
    const { job, server } = this.config
    this.controller = lifetimeController()
    try {
      if (job.task === 'distribute') {
        // Distribution benchmarks need no tfjs: the model is synthetic and never trained or evaluated.
        this.weights = syntheticModel(job.modelMb, job.seed)
        this.layout = this.weights.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype, offset: 0, byteLength: t.data.byteLength }))
      } else {
        this.backend = await chooseBackend(server.backend, job.model, this.log)
        this.log.info('evaluation backend', { backend: this.backend.name, detail: this.backend.detail })
        this.tf = this.backend.tf
        this.model = buildModel(this.tf, job.model, job.seed, { hiddenUnits: job.hiddenUnits })
        this.layout = modelLayout(this.model)
        this.weights = await readWeights(this.model)
        this.test = loadMnist({ trainSamples: job.trainSamples, testSamples: job.testSamples, seed: job.seed }).test
      }
      this.runDir = join(server.runsDir, job.id, new Date().toISOString().replace(/[:.]/g, '-'))
      this.writer = new EventWriter(this.runDir)
      this.checkpoints = new CheckpointStore(server.checkpointDir, job.id)
      if (server.resume === 'yes') this.resume(this.checkpoints.load())
      this.swarm = new SwarmPeer({ announce: [this.config.tracker.url], log: this.log.child({ component: 'swarm' }), uploadLimit: this.uploadLimiter?.bytesPerSecond })
      await this.swarm.start()
      const privateKey = await loadOrCreatePeerKey(join(server.checkpointDir, job.id, 'server.key'))
      const psk = job.pskFile !== '' ? loadPsk(job.pskFile, { create: true }) : undefined
      if (psk != null) this.registrar = new TorrentRegistrar([this.config.tracker.url], psk, this.log.child({ component: 'tracker-registration' }))
      this.node = await createControlNode({ host: server.host, port: server.p2pPort, privateKey, psk })
      await this.listen(this.node)
      this.state = 'idle'
      // Rounds a previous run was asked for and did not finish go on by themselves.
      if (this.target > this.round) {
        this.queued = this.target - this.round
        this.startQueue()
      }
      this.log.info('server started', { peer: this.peerId, addrs: this.multiaddrs, bittorrentPort: this.swarm.port, runDir: this.runDir })
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Continues a job from its checkpoint: the same round number and model bytes, and the rounds still queued. */
  private resume (cp: Checkpoint | undefined): void {
    if (cp == null) return
    if (cp.round > 0) {
      try {
        assertSameLayout(this.layout, cp.tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype, offset: 0, byteLength: t.data.byteLength })))
      } catch (err) {
        throw new BtpsError('CHECKPOINT_INVALID', `the checkpoint in ${this.config.server.checkpointDir} holds another model (${errorMessage(err)}); move it away or set server.resume: no`)
      }
      this.weights = cp.tensors
      if (this.model != null && this.tf != null) writeWeights(this.tf, this.model, cp.tensors)
    }
    this.round = cp.round
    this.results.push(...cp.results)
    this.target = cp.target
    this.log.info('resumed from checkpoint', { round: cp.round, queued: cp.target - cp.round })
  }

  private async listen (node: ControlNode): Promise<void> {
    const pubsub = node.services.pubsub
    pubsub.subscribe(roundsTopic(this.config.job.id))
    acceptOnlyFrom(node, roundsTopic(this.config.job.id), () => node.peerId)
    pubsub.subscribe(statusTopic(this.config.job.id))
    pubsub.addEventListener('message', (evt) => {
      const msg = evt.detail
      if (msg.topic !== statusTopic(this.config.job.id) || msg.type !== 'signed') return
      try {
        const hb = parseHeartbeat(msg.data)
        if (!this.registry.heartbeat(hb.clientId, msg.from.toString(), hb.state, hb.round)) this.log.debug('heartbeat from unknown client', { client: hb.clientId })
      } catch (err) {
        this.log.warn('dropped malformed heartbeat', { peer: msg.from.toString(), reason: errorMessage(err) })
      }
    })
    node.addEventListener('peer:disconnect', (evt) => { this.registry.disconnected(evt.detail.toString()) })
    const guard = (name: string, fn: (stream: Stream, conn: Connection) => Promise<void>) => async (stream: Stream, conn: Connection): Promise<void> => {
      try {
        await fn(stream, conn)
      } catch (err) {
        this.log.warn(`${name}: dropped stream`, { peer: conn.remotePeer.toString(), reason: errorMessage(err) })
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
    }
    await node.handle(LOGIN_PROTOCOL, guard('login', async (s, c) => { await this.onLogin(s, c) }))
    await node.handle(MODEL_PROTOCOL, guard('model', async (s, c) => { await this.onModelRequest(s, c) }))
    await node.handle(RECEIPT_PROTOCOL, guard('receipt', async (s, c) => { await this.onReceipt(s, c) }), { maxInboundStreams: 256 })
    await node.handle(UPDATE_PROTOCOL, guard('update', async (s, c) => { await this.onUpdate(s, c) }), { maxInboundStreams: 256 })
    await node.handle(STATUS_PROTOCOL, guard('status', async (s, c) => { await this.onStatus(s, c) }))
  }

  /** A heartbeat on its own stream: gossip alone loses peers whose gossip stream failed to open (seen with 200). */
  private async onStatus (stream: Stream, conn: Connection): Promise<void> {
    const hb = await withTimeout(this.controller.signal, 10_000, async signal => await readHeartbeat(framed(stream), signal))
    this.registry.heartbeat(hb.clientId, conn.remotePeer.toString(), hb.state, hb.round)
    await stream.close()
  }

  private async onLogin (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const req = await readLoginRequest(lp, this.controller.signal)
    const entry = this.registry.login(req.clientId, conn.remotePeer.toString(), req.backend)
    if (entry == null) {
      await answerLogin(lp, { ok: false, reason: `all ${this.config.job.clients} partitions of job ${this.config.job.id} are taken` })
    } else {
      this.log.info('client logged in', { client: req.clientId, partition: entry.partition, backend: req.backend })
      await answerLogin(lp, { ok: true, jobId: this.config.job.id, partition: entry.partition, partitions: this.config.job.clients, round: this.round })
    }
    await stream.close()
  }

  private async onModelRequest (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const req = await readModelRequest(lp, this.controller.signal)
    const intake = this.intake
    const client = this.registry.list().find(c => c.peerId === conn.remotePeer.toString())
    const blob = this.modelBlob
    if (intake == null || intake.closed || blob == null || req.round !== intake.round || client == null || !intake.selected.has(client.clientId)) {
      await refuseModel(lp, `no model for round ${req.round} for this peer`)
    } else {
      // Counted as handed to the stream: the client may hold the model (and report it) before the last write resolves.
      await sendModel(lp, blob, this.controller.signal, this.uploadLimiter, (n) => { this.psEgressBytes += n })
    }
    await stream.close()
  }

  private async onUpdate (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const header = await readUpdateHeader(lp, this.controller.signal)
    const intake = this.intake
    const refusal = intake == null ? 'no round is open' : this.registry.updateRefusal(header.clientId, conn.remotePeer.toString()) ?? intake.refusal(header)
    if (intake == null || refusal !== undefined) {
      this.log.info('update refused', { client: header.clientId, round: header.round, reason: refusal })
      await answerUpdate(lp, { accepted: false, reason: refusal })
      await stream.close()
      return
    }
    try {
      await intake.take(header, async (staging) => await readUpdate(lp, intake.maxUpdateBytes, this.controller.signal, staging))
    } catch (err) {
      this.log.warn('update rejected', { client: header.clientId, round: header.round, reason: errorMessage(err) })
      // Invalid content counts against the client; a broken stream or a closed round does not.
      if (err instanceof InvalidInputError && err.code !== 'UPDATE_REFUSED' && this.registry.rejectedUpdate(header.clientId, this.config.server.maxRejectedUpdates)) {
        this.log.warn('client excluded: repeated invalid updates', { client: header.clientId, rejected: this.registry.get(header.clientId)?.rejected })
      }
      await answerUpdate(lp, { accepted: false, reason: errorMessage(err) }).catch(() => {})
      await stream.close().catch(() => {})
      return
    }
    this.log.info('update accepted', { client: header.clientId, round: header.round, samples: header.samples, n: intake.accepted.length })
    await answerUpdate(lp, { accepted: true })
    await stream.close()
  }

  private async onReceipt (stream: Stream, conn: Connection): Promise<void> {
    const lp = framed(stream)
    const receipt = await readReceipt(lp, this.controller.signal)
    const intake = this.intake
    try {
      if (intake == null) throw new BtpsError('UPDATE_REFUSED', 'no round is open')
      if (this.registry.get(receipt.clientId)?.peerId !== conn.remotePeer.toString()) throw new BtpsError('UPDATE_REFUSED', `${receipt.clientId} is not logged in from this peer`)
      intake.receipt(receipt)
      await answerReceipt(lp, { accepted: true })
    } catch (err) {
      await answerReceipt(lp, { accepted: false, reason: errorMessage(err) })
    }
    await stream.close()
  }

  /** Queues `count` more rounds; they run one after another. Returns the first queued round number. */
  requestRounds (count: number): number {
    if (this.state === 'stopped' || this.state === 'stopping') throw new BtpsError('NOT_STARTED', 'server is not running')
    const first = this.target + 1
    this.target += count
    this.queued += count
    this.need(this.checkpoints).saveTarget(this.round, this.target, this.results)
    this.startQueue()
    return first
  }

  private startQueue (): void {
    this.loop ??= this.runQueue().finally(() => { this.loop = undefined })
  }

  private async runQueue (): Promise<void> {
    while (this.queued > 0 && !this.controller.signal.aborted) {
      this.queued--
      try {
        await this.runRound()
      } catch (err) {
        if (this.controller.signal.aborted) return
        this.log.error('round failed', { round: this.round + 1, reason: errorMessage(err) })
        await sleep(1000, this.controller.signal).catch(() => {})
      } finally {
        this.state = this.controller.signal.aborted ? this.state : 'idle'
      }
    }
  }

  /** Round messages go straight to each client too, so a client with an open connection can be reached. */
  private reachable (): (peerId: string) => boolean {
    const connected = new Set(this.need(this.node).getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))
    return (peerId) => connected.has(peerId)
  }

  /**
   * Waits for the clients a round selects: all `need` of them, or, once at least `k` are there, whoever is there
   * after server.selection_wait_s, so dead clients stall nothing while live ones can carry the round.
   */
  private async waitForClients (need: number, k: number): Promise<ReturnType<ClientRegistry['eligible']>> {
    let lastLog = 0
    let enoughSince = 0
    for (;;) {
      const eligible = this.registry.eligible(this.reachable())
      if (eligible.length >= need) return eligible
      if (eligible.length >= k) {
        enoughSince ||= Date.now()
        if (Date.now() - enoughSince >= this.config.server.selectionWaitS * 1000) return eligible
      } else enoughSince = 0
      this.state = 'waiting-for-clients'
      if (Date.now() - lastLog > 5000) {
        this.log.info('waiting for clients', { have: eligible.length, need, enough: k })
        lastLog = Date.now()
      }
      await sleep(200, this.controller.signal)
    }
  }

  private async runRound (): Promise<void> {
    const { job } = this.config
    const signal = this.controller.signal
    const round = this.round + 1
    const need = selectionSize(job)
    const eligible = await this.waitForClients(need, job.task === 'distribute' ? need : job.clientsPerRound)
    this.state = 'round'
    const selected = shuffleInPlace(eligible.map(c => c.clientId).sort(), createRng(job.seed * 7919 + round)).slice(0, need)
    const startedAt = Date.now()
    const blob = serializeModel({ jobId: job.id, round }, this.weights)
    const sha256 = createHash('sha256').update(blob).digest('hex')
    const swarm = this.need(this.swarm)
    const register = this.registrar != null ? this.registrar.register.bind(this.registrar) : undefined
    const seed = job.transfer === 'bt' ? await swarm.seed(blob, `${job.id}-round-${round}.btps`, job.pieceKib > 0 ? job.pieceKib * 1024 : undefined, register) : undefined
    this.modelBlob = blob
    this.psEgressBytes = 0
    // A distribution-only round waits for every selected client to hold the model.
    const k = job.task === 'distribute' ? selected.length : job.clientsPerRound
    const intake = new UpdateIntake({ jobId: job.id, round, selected, k, layout: this.layout, modelBytes: blob.byteLength, global: job.task === 'train' ? this.weights : undefined, maxNormRatio: this.config.server.maxUpdateNormRatio })
    this.intake = intake
    const deadline = startedAt + job.roundTimeoutS * 1000
    const announcement: RoundAnnouncement = {
      type: 'round', jobId: job.id, round, transfer: job.transfer, bytes: blob.byteLength, sha256, selected, deadline,
      hyper: { localEpochs: job.localEpochs, batchSize: job.batchSize, learningRate: job.learningRate, mu: job.aggregation === 'fedprox' ? job.mu : 0 },
      ...(seed != null ? { magnet: seed.magnet, serverPeerId: swarm.peerId, serverPort: swarm.port } : {})
    }
    this.announcement = announcement
    this.log.info('round announced', { round, transfer: job.transfer, selected: selected.join(','), bytes: blob.byteLength, pieces: seed?.pieces, infoHash: seed?.infoHash })
    const pubsub = this.need(this.node).services.pubsub
    const publish = async (m: RoundAnnouncement | RoundEnd): Promise<void> => {
      await pubsub.publish(roundsTopic(job.id), encodeRoundMessage(m)).catch((err: unknown) => { this.log.warn('publish failed', { reason: errorMessage(err) }) })
    }
    await publish(announcement)
    this.notify(selected, announcement)
    const announcedAt = Date.now()
    // Re-announce while open: a client that (re)joined after the first announcement still gets the round.
    const reannounce = setInterval(() => { void publish(announcement) }, 3000)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        intake.filled,
        new Promise<void>(resolve => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())) }),
        new Promise<void>((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new BtpsError('ABORTED', 'server stopping')) }, { once: true }) })
      ])
    } finally {
      clearInterval(reannounce)
      clearTimeout(timer)
      intake.close()
    }
    const what = job.task === 'distribute' ? 'clients holding the model' : 'updates'
    const reason = intake.accepted.length >= k ? `${k} ${what}` : `deadline passed with ${intake.accepted.length} of ${k} ${what}`
    const end: RoundEnd = { type: 'round-end', jobId: job.id, round, accepted: intake.accepted, reason }
    await publish(end)
    this.notify(selected, end)
    const egress = seed != null ? swarm.uploaded(seed.infoHash) : this.psEgressBytes
    await swarm.remove(seed?.infoHash)
    this.registrar?.forget(seed?.infoHash)
    this.modelBlob = undefined
    const result = await this.finishRound(intake, { startedAt, announcedAt, selected, egress, modelBytes: blob.byteLength, reason })
    this.results.push(result)
    this.round = round
    this.need(this.checkpoints).save({ round, tensors: this.weights, results: this.results, target: this.target })
    this.need(this.writer).scalars(roundScalars(result), round)
    this.log.info('round finished', { round, status: result.status, accepted: result.accepted.length, acc: result.testAcc1, loss: result.testLoss, roundS: result.roundS.toFixed(2), egressMB: (egress / 1e6).toFixed(2) })
  }

  /**
   * Sends a round message straight to each of `clientIds` too. Gossip alone can lose a peer for good: gossipsub
   * does not re-open an outbound stream that failed to open or closed, and drops what it would send there.
   */
  private notify (clientIds: string[], m: RoundAnnouncement | RoundEnd): void {
    const node = this.need(this.node)
    const bytes = encodeRoundMessage(m)
    for (const clientId of clientIds) {
      const peer = this.registry.get(clientId)?.peerId
      const conn = node.getConnections().find(c => c.remotePeer.toString() === peer && c.status === 'open')
      if (conn == null) continue
      void (async () => {
        const stream = await withTimeout(this.controller.signal, 5000, async signal => await conn.newStream(ROUND_PROTOCOL, { signal }))
        await sendRoundNotice(framed(stream), bytes)
        await stream.close()
      })().catch((err: unknown) => { this.log.debug('round notice not delivered', { client: clientId, reason: errorMessage(err) }) })
    }
  }

  private async finishRound (intake: UpdateIntake, r: { startedAt: number, announcedAt: number, selected: string[], egress: number, modelBytes: number, reason: string }): Promise<RoundResult> {
    const { job } = this.config
    const reports = [...intake.reports.values()]
    let aggregationS = intake.aggregationS
    let status: RoundResult['status'] = 'failed'
    if (job.task === 'distribute') {
      status = intake.accepted.length > 0 ? 'distributed' : 'failed'
    } else if (intake.accepted.length > 0) {
      const t0 = performance.now()
      this.weights = intake.average.result()
      writeWeights(this.need(this.tf), this.need(this.model), this.weights)
      aggregationS += (performance.now() - t0) / 1000
      status = 'aggregated'
    }
    const round = intake.round
    const evaluation = job.task === 'train' && round % job.testInterval === 0 ? await evaluate(this.need(this.tf), job.model, this.need(this.model), this.need(this.test)) : undefined
    const fromPeers = reports.reduce((a, x) => a + x.bytesFromPeers, 0)
    const fromServer = reports.reduce((a, x) => a + x.bytesFromServer, 0)
    return {
      round,
      transfer: job.transfer,
      selected: r.selected,
      accepted: [...intake.accepted],
      status,
      reason: r.reason,
      modelBytes: r.modelBytes,
      distributionS: Math.max(0, ...reports.map(x => x.downloadS)),
      trainingS: Math.max(0, ...reports.map(x => x.computeS)),
      aggregationS,
      roundS: (Date.now() - r.startedAt) / 1000,
      serverEgressBytes: r.egress,
      serverIngressBytes: intake.ingressBytes,
      peerShare: fromPeers + fromServer > 0 ? fromPeers / (fromPeers + fromServer) : 0,
      peerBytes: fromPeers,
      completionS: reports.filter(x => x.heldAt != null).map(x => ((x.heldAt ?? 0) - r.announcedAt) / 1000).sort((a, b) => a - b),
      testAcc1: evaluation?.acc1,
      testAcc5: evaluation?.acc5,
      testLoss: evaluation?.loss,
      startedAt: r.startedAt,
      announcedAt: r.announcedAt,
      finishedAt: Date.now()
    }
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopping'
    this.controller.abort()
    this.intake?.close()
    await this.loop?.catch(() => {})
    this.registrar?.stop()
    await releasePeerParts({ node: this.node, swarm: this.swarm, model: this.model })
    this.node = undefined
    this.swarm = undefined
    this.model = undefined
    this.state = 'stopped'
  }
}
