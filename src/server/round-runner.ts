import { createHash } from 'node:crypto'
import type * as TF from '@tensorflow/tfjs'
import type { Config } from '../config/schema.js'
import { selectionSize } from '../config/parse.js'
import { BtpsError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { sleep, withTimeout } from '../abort.js'
import { frozenTensorCount, writeWeights } from '../model/architectures.js'
import { serializeModel } from '../model/serialize.js'
import { advanceSynthetic } from '../model/synthetic.js'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'
import type { ControlNode } from '../net/node.js'
import { framed } from '../net/frames.js'
import { ROUND_PROTOCOL, encodeRoundMessage, roundsTopic, sendRoundNotice } from '../control/round.js'
import type { RoundAnnouncement, RoundEnd } from '../control/round.js'
import type { SwarmPeer } from '../swarm/swarm-peer.js'
import { choosePieceLength } from '../swarm/piece-length.js'
import type { Backend } from '../training/backend.js'
import type { Dataset } from '../training/mnist.js'
import { evaluate } from '../training/trainer.js'
import { createRng } from '../training/rng.js'
import { ClientStats } from './selection/client-stats.js'
import { createSelection } from './selection/create-selection.js'
import type { Decision, SelectionPolicy } from './selection/policy.js'
import { ReplaySelection, readTrace } from './selection/trace.js'
import type { SelectionTrace } from './selection/trace.js'
import type { EventWriter } from '../metrics/event-writer.js'
import type { CheckpointStore } from './checkpoint.js'
import type { ClientRegistry } from './client-registry.js'
import type { RoundMetrics } from './round-metrics.js'
import type { RoundEvents } from './round-events.js'
import type { RoundResult } from './round-result.js'
import { UpdateIntake } from './update-intake.js'
import { multiaddr } from '@multiformats/multiaddr'
import type { FramedStream } from '../net/frames.js'
import type { Connection } from '@libp2p/interface'
import { elementCount, flatten, shardRanges, unflatten } from '../aggregation/shards.js'
import { gatherAggregate } from '../upload/shard-gather.js'
import type { GatherResult } from '../upload/shard-gather.js'
import type { UploadPlan } from '../upload/round-peers.js'
import { roundScalars } from './scalars.js'
import { swarmUploadPlan } from './upload-plan.js'
import type { TorrentRegistrar } from './torrent-registrar.js'

export type ServerState = 'stopped' | 'idle' | 'waiting-for-clients' | 'round' | 'stopping'

/** The global model a round distributes and aggregation replaces; tfjs parts are absent in `task: distribute`. */
export interface GlobalModel {
  weights: NamedTensor[]
  layout: TensorEntry[]
  tf?: Backend['tf']
  model?: TF.Sequential
  test?: Dataset
}

/** The job's record of finished rounds, which the checkpoint, the admin API and resume share. */
export interface RoundRecord { round: number, results: RoundResult[] }

export interface RoundRunnerParts {
  config: Config
  log: Logger
  registry: ClientRegistry
  node: ControlNode
  swarm: SwarmPeer
  registrar?: TorrentRegistrar
  checkpoints: CheckpointStore
  writer: EventWriter
  /** where each round's selection, availability and timings are recorded (`--replay` reads it back) */
  trace: SelectionTrace
  global: GlobalModel
  record: RoundRecord
  /** the round the queued work runs to, saved with each checkpoint */
  target: () => number
  setState: (state: ServerState) => void
  metrics: RoundMetrics
  events: RoundEvents
  signal: AbortSignal
}

/**
 * Runs one round at a time: waits for clients, selects, announces (gossip and direct notices), distributes (swarm or
 * direct streams), takes the first K updates before the deadline, ends the round, aggregates, evaluates, checkpoints.
 */
export class RoundRunner {
  /** the open (or last) round's intake, model file and announcement, for the stream handlers and the admin API */
  intake?: UpdateIntake
  modelBlob?: Uint8Array
  /** the last round's model file, which no one reads any more: the next round's model is written into it */
  private spareBlob?: Uint8Array
  announcement?: RoundAnnouncement
  private psEgressBytes = 0
  /** what the server learned of each client, read by the selection policy */
  readonly stats = new ClientStats()
  /** the last selection's decision for each eligible client: picked or not, why, its score */
  readonly decisions = new Map<string, Decision>()
  private readonly selection: SelectionPolicy
  /** aborts the round in progress (`bt-ps stop --now`); a new one per round */
  private stopRound = new AbortController()
  private readonly p: RoundRunnerParts

  constructor (parts: RoundRunnerParts) {
    this.p = parts
    const { job } = parts.config
    this.selection = job.replay !== '' ? new ReplaySelection(readTrace(job.replay)) : createSelection(job.selection, this.stats, parts.log)
    if (job.replay !== '') parts.log.info('replaying the selections of a recorded run', { trace: job.replay })
  }

  /** Counts model bytes handed to a direct (`ps`) stream. */
  countEgress (bytes: number): void { this.psEgressBytes += bytes }

  /**
   * Ends the round in progress now, without aggregating: clients are told it ended (with `reason`), the global
   * model and the checkpoint stay as the last finished round left them, and the round is recorded as aborted. A
   * round still waiting for clients ends without a number being used.
   */
  abort (reason: string): void { this.stopRound.abort(new BtpsError('ROUND_ABORTED', reason)) }

  /** Round messages go straight to each client too, so a client with an open connection can be reached. */
  private reachable (): (peerId: string) => boolean {
    const connected = this.openConnections()
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
      const eligible = this.p.registry.eligible(this.reachable())
      if (eligible.length >= need) return eligible
      if (eligible.length >= k) {
        enoughSince ||= Date.now()
        if (Date.now() - enoughSince >= this.p.config.server.selectionWaitS * 1000) return eligible
      } else enoughSince = 0
      this.p.setState('waiting-for-clients')
      if (Date.now() - lastLog > 5000) {
        this.p.log.info('waiting for clients', { have: eligible.length, need, enough: k })
        lastLog = Date.now()
      }
      await sleep(200, AbortSignal.any([this.p.signal, this.stopRound.signal]))
    }
  }

  async runRound (): Promise<void> {
    const { config, log, swarm, record, global } = this.p
    const { job } = config
    const signal = this.p.signal
    const round = record.round + 1
    const need = selectionSize(job)
    const stop = this.stopRound = new AbortController()
    let eligible: Awaited<ReturnType<RoundRunner['waitForClients']>>
    try {
      eligible = await this.waitForClients(need, job.task === 'distribute' ? need : job.clientsPerRound)
    } catch (err) {
      if (!stop.signal.aborted || signal.aborted) throw err
      log.info('round stopped before it started', { round, reason: errorMessage(stop.signal.reason) })
      return
    }
    this.p.setState('round')
    const selected = this.select(round, eligible.map(c => c.clientId), need)
    const startedAt = Date.now()
    if (!this.aggregates() && global.tf == null) advanceSynthetic(global.weights, job.changedFraction, round)
    const pieceLength = job.pieceKib > 0 ? job.pieceKib * 1024 : choosePieceLength(global.weights.reduce((n, t) => n + t.data.byteLength, 0))
    // Fine-tuning: the first trained tensor starts a piece, so the frozen tensors' pieces never change (see serializeModel).
    const firstTrained = job.frozenLayers > 0 && global.model != null ? frozenTensorCount(global.model, job.frozenLayers) : 0
    const align = job.transfer === 'bt' && firstTrained > 0 && firstTrained < global.weights.length ? { pieceLength, tensors: [firstTrained] } : undefined
    const blob = serializeModel({ jobId: job.id, round }, global.weights, this.spareBlob, align)
    this.spareBlob = undefined
    const sha256 = createHash('sha256').update(blob).digest('hex')
    const registrar = this.p.registrar
    const register = registrar != null ? registrar.register.bind(registrar) : undefined
    const seed = job.transfer === 'bt' ? await swarm.seed(blob, `${job.id}-round-${round}.btps`, job.pieceKib > 0 || align != null ? pieceLength : undefined, register) : undefined
    this.modelBlob = blob
    this.psEgressBytes = 0
    // A distribution-only round waits for every selected client to hold the model (or send its synthetic update).
    const k = job.task === 'distribute' ? selected.length : job.clientsPerRound
    const intake = new UpdateIntake({ jobId: job.id, round, selected, k, layout: global.layout, modelBytes: blob.byteLength, global: this.aggregates() ? global.weights : undefined, maxNormRatio: config.server.maxUpdateNormRatio })
    const upload = job.upload === 'swarm' && this.aggregates() ? this.uploadPlan(round, selected) : undefined
    this.intake = intake
    const deadline = startedAt + job.roundTimeoutS * 1000
    const announcement: RoundAnnouncement = {
      type: 'round', jobId: job.id, round, transfer: job.transfer, bytes: blob.byteLength, sha256, selected, deadline,
      hyper: { localEpochs: job.localEpochs, batchSize: job.batchSize, learningRate: job.learningRate, mu: job.aggregation === 'fedprox' ? job.mu : 0 },
      ...(seed != null ? { magnet: seed.magnet, serverPeerId: swarm.peerId, serverPort: swarm.port } : {}),
      ...(upload != null ? { upload } : {})
    }
    this.announcement = announcement
    log.info('round announced', { round, transfer: job.transfer, upload: upload != null ? 'swarm' : 'direct', selected: selected.join(','), bytes: blob.byteLength, pieces: seed?.pieces, infoHash: seed?.infoHash })
    const pubsub = this.p.node.services.pubsub
    const publish = async (m: RoundAnnouncement | RoundEnd): Promise<void> => {
      await pubsub.publish(roundsTopic(job.id), encodeRoundMessage(m)).catch((err: unknown) => { log.warn('publish failed', { reason: errorMessage(err) }) })
    }
    await publish(announcement)
    this.notify(selected, announcement)
    const announcedAt = Date.now()
    this.p.events.emit({ type: 'announced', round, at: announcedAt, selected, transfer: job.transfer, upload: upload != null ? 'swarm' : 'direct', bytes: blob.byteLength })
    // Re-announce while open: a client that (re)joined after the first announcement still gets the round.
    const reannounce = setInterval(() => { void publish(announcement) }, 3000)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        intake.filled,
        new Promise<void>(resolve => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())) }),
        new Promise<void>((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new BtpsError('ABORTED', 'server stopping')) }, { once: true }) }),
        new Promise<void>(resolve => { stop.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      ])
    } finally {
      clearInterval(reannounce)
      clearTimeout(timer)
      intake.close()
    }
    const closedAt = Date.now()
    const aborted = stop.signal.aborted
    // Owners stream the mean as soon as they are asked: ask before the round-end notices and the seed's removal.
    const gathering = upload != null && intake.accepted.length > 0 && !aborted ? this.gather(intake, upload) : undefined
    gathering?.catch(() => {})
    const what = this.aggregates() ? 'updates' : 'clients holding the model'
    const reason = aborted ? errorMessage(stop.signal.reason) : intake.accepted.length >= k ? `${k} ${what}` : `deadline passed with ${intake.accepted.length} of ${k} ${what}`
    const end: RoundEnd = { type: 'round-end', jobId: job.id, round, accepted: aborted ? [] : intake.accepted, reason }
    await publish(end)
    this.notify(selected, end)
    // In `bt` mode a client that got nothing from the swarm falls back to the direct stream: both count.
    const egress = (seed != null ? swarm.uploaded(seed.infoHash) : 0) + this.psEgressBytes
    await swarm.remove(seed?.infoHash)
    registrar?.forget(seed?.infoHash)
    this.modelBlob = undefined
    const result = await this.finishRound(intake, { startedAt, announcedAt, selected, egress, modelBytes: blob.byteLength, reason, upload, gathering, aborted })
    record.results.push(result)
    const inS = new Map([...intake.admittedAt].map(([id, at]) => [id, (at - announcedAt) / 1000]))
    this.stats.finished(selected, intake.reports, blob.byteLength, { inS, roundS: (closedAt - announcedAt) / 1000 })
    this.selection.finished?.(round, result.accepted)
    this.p.trace.write({
      round,
      policy: this.selection.name,
      eligible: eligible.map(c => c.clientId),
      offline: this.p.registry.list().filter(c => c.online && c.state === 'offline').map(c => c.clientId),
      selected,
      reasons: Object.fromEntries(selected.map(id => [id, this.decisions.get(id)?.reason ?? ''])),
      durationsS: Object.fromEntries(selected.map(id => [id, this.stats.get(id)?.durationS ?? 0])),
      accepted: result.accepted
    })
    this.p.metrics.roundFinished(result, this.psEgressBytes)
    this.p.events.emit({ type: 'finished', round, at: result.finishedAt, result })
    record.round = round
    this.p.checkpoints.save({ round, tensors: global.weights, results: record.results, target: this.p.target() }, this.aggregates() ? undefined : blob)
    // Nothing seeds or serves this round's file any more: the next round's model is written into it.
    this.spareBlob = blob
    if (!aborted) this.p.writer.scalars(roundScalars(result), round)
    log.info('round finished', { round, status: result.status, accepted: result.accepted.length, acc: result.testAcc1, loss: result.testLoss, roundS: result.roundS.toFixed(2), egressMB: (egress / 1e6).toFixed(2) })
  }

  /** The policy's pick (`job.selection`), each decision logged with its reason and kept for `bt-ps status`. */
  private select (round: number, eligible: string[], need: number): string[] {
    const { job } = this.p.config
    const s = this.selection.select(round, eligible, need, createRng(job.seed * 7919 + round))
    this.decisions.clear()
    for (const d of s.decisions) {
      this.decisions.set(d.clientId, d)
      if (d.selected) this.p.log.info('client selected', { round, client: d.clientId, policy: this.selection.name, reason: d.reason })
      else this.p.log.debug('client not selected', { round, client: d.clientId, policy: this.selection.name, reason: d.reason })
    }
    this.stats.selected(round, s.selected)
    return s.selected
  }

  /**
   * A client that logs in while a round it was selected for is open (its connection broke, and with it its task)
   * gets the round's announcement on a direct stream: gossip alone may never reach it again (see notify), and the
   * round would wait for it to its deadline.
   */
  loggedIn (clientId: string): void {
    const { intake, announcement } = this
    if (intake == null || intake.closed || announcement?.round !== intake.round || !intake.selected.has(clientId) || intake.accepted.includes(clientId)) return
    this.notify([clientId], announcement)
  }

  /**
   * Sends a round message straight to each of `clientIds` too. Gossip alone can lose a peer for good: gossipsub
   * does not re-open an outbound stream that failed to open or closed, and drops what it would send there.
   */
  private notify (clientIds: string[], m: RoundAnnouncement | RoundEnd): void {
    const bytes = encodeRoundMessage(m)
    const open = this.openConnections()
    // One notice per peer: a process running many of the selected identities reads them all from one.
    const peers = new Map<string, string>()
    for (const clientId of clientIds) {
      const peer = this.p.registry.peerOf(clientId)
      if (peer != null && !peers.has(peer)) peers.set(peer, clientId)
    }
    for (const [peer, clientId] of peers) {
      const conn = open.get(peer)
      if (conn == null) continue
      void (async () => {
        const stream = await withTimeout(this.p.signal, 5000, async signal => await conn.newStream(ROUND_PROTOCOL, { signal }))
        await sendRoundNotice(framed(stream), bytes)
        await stream.close()
      })().catch((err: unknown) => { this.p.log.debug('round notice not delivered', { client: clientId, reason: errorMessage(err) }) })
    }
  }

  /** Each connected peer's open connection, looked up once for a round's many clients. */
  private openConnections (): Map<string, Connection> {
    const open = new Map<string, Connection>()
    for (const c of this.p.node.getConnections()) if (c.status === 'open' && !open.has(c.remotePeer.toString())) open.set(c.remotePeer.toString(), c)
    return open
  }

  /** Swarm upload: the committed contributors' mean, from the shards' owners (or the contributors when an owner fails). */
  private async gather (intake: UpdateIntake, plan: UploadPlan): Promise<GatherResult> {
    const { node, log, config, registry, global } = this.p
    const addrs = new Map(plan.peers.map(p => [p.peerId, p.addr]))
    const open = async (peerId: string, protocol: string, signal: AbortSignal): Promise<FramedStream> => {
      const conn = this.openConnections().get(peerId)
      if (conn != null) return framed(await conn.newStream(protocol, { signal }))
      const addr = addrs.get(peerId)
      if (addr == null) throw new BtpsError('UNREACHABLE', `no address for peer ${peerId}`)
      return framed(await node.dialProtocol(multiaddr(addr), protocol, { signal }))
    }
    const ranges = shardRanges(plan.elements, plan.peers.length)
    const committed = new Set(intake.contributions.map(c => c.clientId))
    // A contributor holds the model; another owner's last heartbeat says whether it does.
    const lacking = new Set(plan.peers.map(p => p.clientId).filter(id => {
      const c = registry.get(id)
      return !committed.has(id) && (c == null || !c.online || c.round !== intake.round || c.state === 'downloading' || (c.held != null && c.held < 1))
    }))
    const result = await gatherAggregate({ open, log, signal: this.p.signal }, { jobId: config.job.id, round: intake.round, ranges, owners: plan.peers, committed: intake.contributions, global: flatten(global.weights), waitMs: config.server.uploadStallS * 1000, lacking })
    // Shards that broke a rule count against their sender as invalid direct updates do.
    for (const d of result.dropped) {
      if (d.kind !== 'invalid') continue
      log.warn('update rejected', { client: d.clientId, round: intake.round, reason: d.reason })
      registry.countInvalid(d.clientId, config.server.maxRejectedUpdates, log)
    }
    this.p.metrics.gathered(result.fallbacks, result.dropped.map(d => d.kind))
    log.info('aggregate gathered', { round: intake.round, contributors: result.contributors.join(','), ingressMB: (result.ingressBytes / 1e6).toFixed(2), ownersBypassed: result.fallbacks })
    return result
  }

  /** Whether rounds bring updates back (training, or distribution benchmarks with synthetic updates). */
  private aggregates (): boolean {
    const { job } = this.p.config
    return job.task === 'train' || job.syntheticUpdate === 'yes'
  }

  /** Swarm upload's plan for the round, or none (updates come directly) when selected clients share a peer. */
  private uploadPlan (round: number, selected: string[]): UploadPlan | undefined {
    const { plan, sharedPeers } = swarmUploadPlan(selected, clientId => need(this.p.registry.get(clientId)), elementCount(this.p.global.layout))
    if (plan == null) this.p.log.info('swarm upload needs one client per peer; updates come directly this round', { round, sharedPeers })
    return plan
  }

  private async finishRound (intake: UpdateIntake, r: { startedAt: number, announcedAt: number, selected: string[], egress: number, modelBytes: number, reason: string, upload?: UploadPlan, gathering?: Promise<GatherResult>, aborted: boolean }): Promise<RoundResult> {
    const { job } = this.p.config
    const global = this.p.global
    let aggregationS = intake.aggregationS
    let status: RoundResult['status'] = 'failed'
    let accepted = [...intake.accepted]
    let ingress = intake.ingressBytes
    let dropped: string[] | undefined
    if (r.aborted) {
      // Nothing of this round reaches the model: what came in is dropped with the intake.
      status = 'aborted'
      accepted = []
    } else if (!this.aggregates()) {
      status = intake.accepted.length > 0 ? 'distributed' : 'failed'
    } else if (intake.accepted.length > 0) {
      const t0 = performance.now()
      try {
        if (r.gathering != null) {
          const gathered = await r.gathering
          accepted = gathered.contributors
          ingress += gathered.ingressBytes
          dropped = gathered.dropped.map(d => `${d.clientId} (${d.kind}: ${d.reason})`)
          global.weights = unflatten(gathered.mean, global.layout)
        } else {
          global.weights = intake.average.result()
        }
        if (global.tf != null && global.model != null) writeWeights(global.tf, global.model, global.weights)
        status = 'aggregated'
      } catch (err) {
        if (this.p.signal.aborted) throw err
        this.p.log.error('aggregation failed; the global model is unchanged', { round: intake.round, reason: errorMessage(err) })
        accepted = []
        dropped = [errorMessage(err)]
      }
      aggregationS += (performance.now() - t0) / 1000
    }
    const aggregatedAt = Date.now()
    const reports = accepted.flatMap(id => intake.reports.get(id) ?? [])
    const round = intake.round
    const evaluation = job.task === 'train' && round % job.testInterval === 0 && !r.aborted ? await evaluate(need(global.tf), job.model, need(global.model), need(global.test)) : undefined
    const fromPeers = reports.reduce((a, x) => a + x.bytesFromPeers, 0)
    const fromServer = reports.reduce((a, x) => a + x.bytesFromServer, 0)
    const reused = reports.reduce((a, x) => a + (x.bytesReused ?? 0), 0)
    return {
      round,
      transfer: job.transfer,
      selected: r.selected,
      upload: r.upload != null ? 'swarm' : 'direct',
      accepted,
      status,
      reason: r.reason,
      modelBytes: r.modelBytes,
      distributionS: Math.max(0, ...reports.map(x => x.downloadS)),
      trainingS: Math.max(0, ...reports.map(x => x.computeS)),
      aggregationS,
      roundS: (Date.now() - r.startedAt) / 1000,
      serverEgressBytes: r.egress,
      serverIngressBytes: ingress,
      ...(intake.firstUpdateAt != null && status === 'aggregated' ? { uploadS: (aggregatedAt - intake.firstUpdateAt) / 1000 } : {}),
      ...(dropped != null && dropped.length > 0 ? { dropped } : {}),
      peerShare: fromPeers + fromServer > 0 ? fromPeers / (fromPeers + fromServer) : 0,
      peerBytes: fromPeers,
      ...(reused > 0 ? { reusedBytes: reused } : {}),
      completionS: reports.filter(x => x.heldAt != null).map(x => ((x.heldAt ?? 0) - r.announcedAt) / 1000).sort((a, b) => a - b),
      testAcc1: evaluation?.acc1,
      testAcc5: evaluation?.acc5,
      testLoss: evaluation?.loss,
      startedAt: r.startedAt,
      announcedAt: r.announcedAt,
      finishedAt: Date.now()
    }
  }
}

function need<T> (v: T | undefined): T {
  if (v == null) throw new BtpsError('NOT_STARTED', 'server is not started')
  return v
}
