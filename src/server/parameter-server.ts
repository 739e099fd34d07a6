import { join } from 'node:path'
import type { Stream, Connection } from '@libp2p/interface'
import type { Config } from '../config/schema.js'
import { BtpsError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { lifetimeController } from '../abort.js'
import { buildModel, modelLayout, readWeights, writeWeights } from '../model/architectures.js'
import { assertSameLayout } from '../model/serialize.js'
import { syntheticModel } from '../model/synthetic.js'
import { acceptOnlyFrom, createControlNode } from '../net/node.js'
import { releasePeerParts } from '../net/peer-parts.js'
import type { ControlNode } from '../net/node.js'
import { LOGIN_PROTOCOL } from '../control/login.js'
import { MODEL_PROTOCOL } from '../control/model.js'
import { RECEIPT_PROTOCOL } from '../control/receipt.js'
import { roundsTopic } from '../control/round.js'
import { STATUS_PROTOCOL, statusTopic } from '../control/status.js'
import { UPDATE_PROTOCOL } from '../control/update.js'
import { SwarmPeer } from '../swarm/swarm-peer.js'
import { RateLimiter } from '../net/rate-limiter.js'
import { chooseBackend } from '../training/backend.js'
import type { Backend } from '../training/backend.js'
import { loadDataset } from '../training/datasets.js'
import { EventWriter } from '../metrics/event-writer.js'
import { CheckpointStore } from './checkpoint.js'
import { loadOrCreatePeerKey } from '../net/peer-key.js'
import { loadPsk } from '../net/psk.js'
import type { Checkpoint } from './checkpoint.js'
import { ClientRegistry } from './client-registry.js'
import { ThrottledSave } from './throttled-save.js'
import type { RoundResult } from './round-result.js'
import { RoundQueue } from './round-queue.js'
import { RoundRunner } from './round-runner.js'
import { SelectionTrace } from './selection/trace.js'
import type { GlobalModel, RoundRecord, ServerState } from './round-runner.js'
import { TorrentRegistrar } from './torrent-registrar.js'
import { handleLogin } from './handlers/login.js'
import { handleModel } from './handlers/model.js'
import { handleReceipt } from './handlers/receipt.js'
import { handleHeartbeatGossip, handleStatus } from './handlers/status.js'
import { handleUpdate } from './handlers/update.js'
import { handleContribution } from './handlers/contribution.js'
import { CONTRIBUTION_PROTOCOL } from '../control/contribution.js'
import { partitionSizes } from './partition-sizes.js'
import type { Registry } from 'prom-client'
import { unscrapedRegistry } from '../prometheus/registry.js'
import { SwarmMetrics } from '../swarm/swarm-metrics.js'
import { ClientMetrics } from './client-metrics.js'
import { RoundMetrics } from './round-metrics.js'
import { UpdateMetrics } from './update-metrics.js'
import { RoundEvents } from './round-events.js'

export type { ServerState } from './round-runner.js'

export interface RoundsStopped { at: number, now: boolean, dropped: number, aborted?: number }

/**
 * The server peer: holds the global model, admits clients, runs rounds (announce over gossipsub, distribute by
 * swarm or direct streams, take the first K updates before the deadline), aggregates, evaluates, checkpoints and logs.
 * It composes the stream handlers (`handlers/`), the round runner and the round queue; it starts, stops and resumes.
 */
export class ParameterServer {
  state: ServerState = 'stopped'
  backend?: Backend
  runDir = ''
  readonly config: Config
  private readonly log: Logger
  private node?: ControlNode
  private swarm?: SwarmPeer
  private registrar?: TorrentRegistrar
  private global: GlobalModel = { weights: [], layout: [] }
  private readonly record: RoundRecord = { round: 0, results: [] }
  private checkpoints?: CheckpointStore
  private readonly registry: ClientRegistry
  /** the client bindings, saved beside the checkpoint after logins that change them, at most once a second */
  private bindingsSave?: ThrottledSave
  /** each partition's sample count: a client's weight in the aggregate */
  private partitionSizes: number[]
  private runner?: RoundRunner
  private readonly queue: RoundQueue
  /** the last `bt-ps stop`, for `bt-ps status` */
  lastStop?: RoundsStopped
  private controller = lifetimeController()
  /** The same upload cap for both transfer modes, so they compare fairly. */
  private readonly uploadLimiter?: RateLimiter
  /** where its metrics go (the admin API serves them at /metrics) */
  readonly metrics: Registry
  private readonly roundMetrics: RoundMetrics
  private readonly updateMetrics: UpdateMetrics
  private readonly swarmMetrics: SwarmMetrics
  private readonly clientMetrics: ClientMetrics
  /** rounds announced and finished, and stops, for followers of the admin API's event stream */
  readonly events = new RoundEvents()

  constructor (components: { log: Logger, metrics?: Registry }, config: Config) {
    this.config = config
    this.log = components.log
    const metrics = this.metrics = components.metrics ?? unscrapedRegistry()
    this.roundMetrics = new RoundMetrics(metrics)
    this.updateMetrics = new UpdateMetrics(metrics)
    this.swarmMetrics = new SwarmMetrics(metrics)
    if (config.server.uploadLimitMbit > 0) this.uploadLimiter = new RateLimiter(config.server.uploadLimitMbit * 1e6 / 8)
    this.partitionSizes = partitionSizes(config.job)
    this.registry = new ClientRegistry({ partitions: config.job.clients, staleMs: Math.max(10_000, config.client.heartbeatS * 5000), maxIdsPerPeer: config.server.maxIdsPerPeer })
    this.queue = new RoundQueue({
      log: this.log,
      signal: () => this.controller.signal,
      runRound: async () => { await this.need(this.runner).runRound() },
      nextRound: () => this.record.round + 1,
      saveTarget: (target) => { this.need(this.checkpoints).saveTarget(this.record.round, target, this.record.results) },
      settled: () => { if (!this.controller.signal.aborted) this.state = 'idle' }
    })
    this.clientMetrics = new ClientMetrics(metrics, () => {
      const open = this.runner?.intake
      return { ...this.registry.counts(), selected: open != null && !open.closed ? open.selected.size : 0 }
    })
  }

  /** Rounds finished (the last one's number) and their results. */
  get round (): number { return this.record.round }
  get results (): RoundResult[] { return this.record.results }
  /** Rounds asked for and not yet started. */
  get queued (): number { return this.queue.queued }
  /** The last round the queue will run (lowered by `bt-ps stop`). */
  get target (): number { return this.queue.target }
  get peerId (): string { return this.need(this.node).peerId.toString() }
  get multiaddrs (): string[] { return this.need(this.node).getMultiaddrs().map(String) }
  get clients (): ReturnType<ClientRegistry['list']> { return this.registry.list() }
  /** The last selection's decision about a client (`job.selection`): picked or not, why, its score. */
  selectionOf (clientId: string): { selected: boolean, reason: string, score?: number } | undefined { return this.runner?.decisions.get(clientId) }
  get current (): { round: number, selected: string[], accepted: string[], k: number, magnet?: string, sha256?: string, deadline?: number } | undefined {
    const i = this.runner?.intake
    const a = this.runner?.announcement
    return i == null || i.closed ? undefined : { round: i.round, selected: [...i.selected], accepted: [...i.accepted], k: i.k, magnet: a?.magnet, sha256: a?.sha256, deadline: a?.deadline }
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
        const weights = syntheticModel(job.modelMb, job.seed)
        this.global = { weights, layout: weights.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype, offset: 0, byteLength: t.data.byteLength })) }
      } else {
        this.backend = await chooseBackend(server.backend, job.model, this.log)
        this.log.info('evaluation backend', { backend: this.backend.name, detail: this.backend.detail })
        const tf = this.backend.tf
        const data = loadDataset(job)
        this.log.info('dataset loaded', { dataset: job.dataset, train: data.train.size, test: data.test.size, shape: data.train.shape.join('x'), classes: data.train.classes })
        const model = buildModel(tf, job.model, job.seed, { hiddenUnits: job.hiddenUnits, input: data.train })
        this.global = { tf, model, layout: modelLayout(model), weights: await readWeights(model) }
        this.global.test = data.test
        this.partitionSizes = partitionSizes(job, data.train)
      }
      this.runDir = join(server.runsDir, job.id, new Date().toISOString().replace(/[:.]/g, '-'))
      const writer = new EventWriter(this.runDir)
      const checkpoints = this.checkpoints = new CheckpointStore(server.checkpointDir, job.id)
      if (server.resume === 'yes') {
        this.resume(checkpoints.load())
        this.registry.restore(checkpoints.loadClients())
      }
      // The BitTorrent listener binds where the libp2p one does (server.host), not every interface.
      const swarm = this.swarm = new SwarmPeer({ announce: [this.config.tracker.url], log: this.log.child({ component: 'swarm' }), host: server.host, uploadLimit: this.uploadLimiter?.bytesPerSecond, metrics: this.swarmMetrics })
      await swarm.start()
      const privateKey = await loadOrCreatePeerKey(server.keyFile !== '' ? server.keyFile : join(server.checkpointDir, job.id, 'server.key'))
      const psk = job.pskFile !== '' ? loadPsk(job.pskFile, { create: true }) : undefined
      if (psk != null) this.registrar = new TorrentRegistrar([this.config.tracker.url], psk, this.log.child({ component: 'tracker-registration' }))
      const node = this.node = await createControlNode({ host: server.host, port: server.p2pPort, privateKey, psk })
      this.runner = new RoundRunner({
        config: this.config, log: this.log, registry: this.registry, node, swarm, registrar: this.registrar, checkpoints, writer, trace: new SelectionTrace(join(this.runDir, 'selection-trace.jsonl')),
        global: this.global, record: this.record, target: () => this.queue.target, setState: (s) => { this.state = s }, metrics: this.roundMetrics, events: this.events, signal: this.controller.signal
      })
      await this.listen(node, this.runner)
      this.state = 'idle'
      // Rounds a previous run was asked for and did not finish go on by themselves.
      this.queue.resume(this.record.round)
      this.log.info('server started', { peer: this.peerId, addrs: this.multiaddrs, bittorrent: swarm.address, runDir: this.runDir })
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
        assertSameLayout(this.global.layout, cp.tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype, offset: 0, byteLength: t.data.byteLength })))
      } catch (err) {
        throw new BtpsError('CHECKPOINT_INVALID', `the checkpoint in ${this.config.server.checkpointDir} holds another model (${errorMessage(err)}); move it away or set server.resume: no`)
      }
      this.global.weights = cp.tensors
      if (this.global.model != null && this.global.tf != null) writeWeights(this.global.tf, this.global.model, cp.tensors)
    }
    this.record.round = cp.round
    this.record.results.push(...cp.results)
    this.queue.target = cp.target
    this.log.info('resumed from checkpoint', { round: cp.round, queued: cp.target - cp.round })
  }

  /** Subscribes to the job's topics and hands each protocol's streams to its handler, with only what it needs. */
  private async listen (node: ControlNode, runner: RoundRunner): Promise<void> {
    const { registry, log } = this
    const signal = this.controller.signal
    const pubsub = node.services.pubsub
    pubsub.subscribe(roundsTopic(this.config.job.id))
    acceptOnlyFrom(node, roundsTopic(this.config.job.id), () => node.peerId)
    pubsub.subscribe(statusTopic(this.config.job.id))
    pubsub.addEventListener('message', (evt) => {
      const msg = evt.detail
      if (msg.topic !== statusTopic(this.config.job.id) || msg.type !== 'signed') return
      handleHeartbeatGossip({ registry, log, counted: (bytes) => { this.clientMetrics.heartbeat('gossip', bytes) } }, msg.from.toString(), msg.data)
    })
    node.addEventListener('peer:disconnect', (evt) => { registry.disconnected(evt.detail.toString()) })
    const guard = (name: string, fn: (stream: Stream, conn: Connection) => Promise<void>) => async (stream: Stream, conn: Connection): Promise<void> => {
      try {
        await fn(stream, conn)
      } catch (err) {
        log.warn(`${name}: dropped stream`, { peer: conn.remotePeer.toString(), reason: errorMessage(err) })
        stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
      }
    }
    const intake = (): RoundRunner['intake'] => runner.intake
    const checkpoints = this.need(this.checkpoints)
    const bindings = this.bindingsSave = new ThrottledSave(() => { checkpoints.saveClients(registry.bindings()) }, (err) => { log.error('client bindings not saved', { reason: errorMessage(err) }) })
    const login = { registry, job: { id: this.config.job.id, clients: this.config.job.clients }, round: () => this.record.round, log, signal, bound: () => { bindings.request() }, loggedIn: (clientId: string) => { runner.loggedIn(clientId) } }
    const model = { registry, round: () => ({ intake: runner.intake, blob: runner.modelBlob }), countEgress: (n: number) => { runner.countEgress(n) }, limiter: this.uploadLimiter, signal }
    const sizes = this.partitionSizes
    const weight = (clientId: string): number => sizes[registry.get(clientId)?.partition ?? -1] ?? 1
    const stall = { stallMs: this.config.server.uploadStallS * 1000, minBytesPerS: this.config.server.minUploadKbps * 1000 }
    const metrics = this.updateMetrics
    const update = { registry, intake, maxRejectedUpdates: this.config.server.maxRejectedUpdates, weight, stall, metrics, log, signal }
    const contribution = { registry, intake, shards: () => runner.announcement?.upload?.peers.length ?? 0, maxRejectedUpdates: this.config.server.maxRejectedUpdates, weight, metrics, log, signal }
    // A client needs one stream of each at a time; a few more cover a retry overlapping the old stream's close.
    // Streams past these are refused, so one peer cannot hold a window's worth of buffers on hundreds of them. A peer
    // allowed many client ids (server.max_ids_per_peer) may have that many logging in or sending updates at once.
    const few = { maxInboundStreams: 4 * Math.min(this.config.server.maxIdsPerPeer, 64) }
    await node.handle(LOGIN_PROTOCOL, guard('login', async (s, c) => { await handleLogin(login, s, c) }), few)
    await node.handle(MODEL_PROTOCOL, guard('model', async (s, c) => { await handleModel(model, s, c) }), few)
    await node.handle(RECEIPT_PROTOCOL, guard('receipt', async (s, c) => { await handleReceipt({ registry, intake, metrics, signal }, s, c) }), few)
    await node.handle(UPDATE_PROTOCOL, guard('update', async (s, c) => { await handleUpdate(update, s, c) }), few)
    await node.handle(CONTRIBUTION_PROTOCOL, guard('contribution', async (s, c) => { await handleContribution(contribution, s, c) }), few)
    await node.handle(STATUS_PROTOCOL, guard('status', async (s, c) => { await handleStatus({ registry, signal, counted: (bytes) => { this.clientMetrics.heartbeat('stream', bytes) } }, s, c) }), few)
  }

  /** Queues `count` more rounds; they run one after another. Returns the first queued round number. */
  requestRounds (count: number): number {
    if (this.state === 'stopped' || this.state === 'stopping') throw new BtpsError('NOT_STARTED', 'server is not running')
    return this.queue.request(count)
  }

  /**
   * `bt-ps stop`: drops the queued rounds; with `now`, also aborts the round in progress (clients are told, nothing
   * of it is aggregated, the checkpoint keeps the last finished round). Returns what was stopped.
   */
  stopRounds (now: boolean): RoundsStopped {
    if (this.state === 'stopped' || this.state === 'stopping') throw new BtpsError('NOT_STARTED', 'server is not running')
    const running = this.state === 'round' || this.state === 'waiting-for-clients' ? this.record.round + 1 : undefined
    // Once its updates are in, a round finishes (aggregation, checkpoint) whatever is asked.
    const aborting = now && running != null && (this.state === 'waiting-for-clients' || this.current != null)
    // An aborted round keeps its number once announced (clients saw it); one still waiting for clients does not.
    const last = running == null ? this.record.round : aborting && this.state === 'waiting-for-clients' ? this.record.round : running
    const dropped = this.queue.drop(last)
    if (aborting) this.need(this.runner).abort('stopped by the operator (bt-ps stop --now)')
    this.lastStop = { at: Date.now(), now, dropped, ...(aborting ? { aborted: running } : {}) }
    this.log.info('rounds stopped', { dropped, aborted: aborting ? running : undefined })
    this.events.emit({ type: 'stopped', ...this.lastStop })
    return this.lastStop
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopping'
    this.controller.abort()
    this.runner?.intake?.close()
    await this.queue.idle()
    this.registrar?.stop()
    await releasePeerParts({ node: this.node, swarm: this.swarm, model: this.global.model })
    // No login can come in any more: the bindings still waiting for their save are written now.
    this.bindingsSave?.stop()
    this.bindingsSave = undefined
    this.node = undefined
    this.swarm = undefined
    this.global.model = undefined
    this.state = 'stopped'
  }
}
