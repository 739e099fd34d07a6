import type * as TF from '@tensorflow/tfjs'
import type { Config } from '../config/schema.js'
import { errorMessage, isCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { childController, lifetimeController } from '../abort.js'
import { buildModel } from '../model/architectures.js'
import { createControlNode } from '../net/node.js'
import { loadOrCreatePeerKey } from '../net/peer-key.js'
import { loadPsk } from '../net/psk.js'
import { releasePeerParts } from '../net/peer-parts.js'
import type { ControlNode } from '../net/node.js'
import type { LoginResponse } from '../control/login.js'
import type { RoundMessage } from '../control/round.js'
import type { ClientState } from '../control/status.js'
import { SwarmPeer } from '../swarm/swarm-peer.js'
import { magnetInfoHash } from '../swarm/metainfo.js'
import { chooseBackend } from '../training/backend.js'
import type { Backend } from '../training/backend.js'
import { subset } from '../training/mnist.js'
import { loadDataset } from '../training/datasets.js'
import type { Dataset } from '../training/mnist.js'
import { partition } from '../training/partition.js'
import { runRoundTask } from './round-task.js'
import { ServerSession } from './server-session.js'
import { UploadPeer } from '../upload/upload-peer.js'
import type { Registry } from 'prom-client'
import { unscrapedRegistry } from '../prometheus/registry.js'
import { SwarmMetrics } from '../swarm/swarm-metrics.js'
import { ClientRoundMetrics } from './client-metrics.js'
import { Device } from './device.js'
import { loadProfiles, profileFor } from '../profiles/device-profiles.js'

interface Task { round: number, controller: AbortController, done: Promise<void> }

/**
 * A client's default id: the end of its peer id, so ids differ across hosts and containers (a pid does not) and
 * stay the same across restarts when the key is kept (`client.key_file`).
 */
export const defaultClientId = (peerId: string): string => `client-${peerId.slice(-10)}`

/**
 * A client peer: logs in to the job's server, and for every round it is selected for downloads the model
 * (from the swarm, or directly in `ps` mode), trains on its partition, sends its update and seeds meanwhile.
 * It composes the server session (login, heartbeats, the round-message gate) and one round task at a time.
 */
export class ClientPeer {
  /** `client.id`, or (when that is empty) derived from the peer id once the node is up */
  clientId: string
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
  private session?: ServerSession
  private model?: TF.Sequential
  private data?: Dataset
  private task?: Task
  private uploads?: UploadPeer
  /** the device profile this client plays (`job.profiles`) */
  private device?: Device
  private lastRound = 0
  private controller = lifetimeController()
  private started = false

  /** where its metrics go (`client.metrics_port` serves them) */
  readonly metrics: Registry
  private readonly roundMetrics: ClientRoundMetrics
  private readonly swarmMetrics: SwarmMetrics

  constructor (components: { log: Logger, metrics?: Registry }, config: Config) {
    this.config = config
    this.log = components.log
    this.metrics = components.metrics ?? unscrapedRegistry()
    this.roundMetrics = new ClientRoundMetrics(this.metrics)
    this.swarmMetrics = new SwarmMetrics(this.metrics)
    this.clientId = config.client.id
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
      }
      this.swarm = new SwarmPeer({ announce: [this.config.tracker.url], log: this.log.child({ component: 'swarm' }), host: client.host, metrics: this.swarmMetrics })
      await this.swarm.start()
      const privateKey = client.keyFile !== '' ? await loadOrCreatePeerKey(client.keyFile) : undefined
      const node = await createControlNode({ host: client.host, port: 0, psk: job.pskFile !== '' ? loadPsk(job.pskFile, { create: false }) : undefined, privateKey })
      this.node = node
      if (this.clientId === '') this.clientId = defaultClientId(node.peerId.toString())
      this.uploads = new UploadPeer({ log: this.log.child({ component: 'upload' }), node, signal: this.controller.signal }, { clientId: this.clientId, server: () => this.session?.serverPeer, idleMs: this.config.server.uploadStallS * 1000 })
      await this.uploads.start()
      if (job.profiles !== '') {
        const device = this.device = new Device(profileFor(loadProfiles(job.profiles), this.clientId, job.seed), this.log, (online) => { this.onAvailability(online) })
        this.swarm.limitLinks(device.uplink, device.downlinkBytesPerS)
        this.uploads.uplink = device.uplink
        device.start()
      }
      this.session = new ServerSession({
        config: this.config,
        clientId: this.clientId,
        node,
        log: this.log,
        signal: this.controller.signal,
        backend: () => this.backend?.name ?? 'none',
        status: () => ({ state: this.state, round: this.task?.round ?? this.lastRound, ...this.swarmProgress() }),
        onLogin: (res) => this.onLogin(res),
        onRound: (m) => { this.onRound(m) }
      })
      await this.session.start()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Loads this client's data partition on the first login (or when the server hands it another one). */
  private onLogin (res: LoginResponse): { samples?: number } {
    if (this.config.job.task === 'train' && (this.data == null || this.partitionIndex !== res.partition)) this.loadPartition(res.partition, res.partitions)
    this.partitionIndex = res.partition
    // A server that restarted from its checkpoint runs its unfinished round again under the same number.
    if (res.round < this.lastRound) {
      this.task?.controller.abort()
      this.lastRound = res.round
    }
    return { samples: this.data?.size }
  }

  private loadPartition (index: number, count: number): void {
    const { job } = this.config
    const { train } = loadDataset(job)
    const parts = partition(train.y, { kind: job.partition, clients: count, seed: job.seed, alpha: job.alpha, groups: train.groups })
    this.data = subset(train, parts[index])
    // The model's input and output follow the data (CIFAR-10 images are 32×32×3, FEMNIST has 62 classes).
    if (this.backend != null) this.model ??= buildModel(this.backend.tf, job.model, job.seed, { hiddenUnits: job.hiddenUnits, frozenLayers: job.frozenLayers, input: train })
  }

  /** The round's torrent: how much of the model this client holds and has sent to peers (kept once the torrent goes). */
  private roundSwarm?: { infoHash: string, bytes: number, held: number, uploaded: number }

  private swarmProgress (): { held?: number, uploaded?: number } {
    const t = this.roundSwarm
    const swarm = this.swarm
    if (t == null || swarm == null) return {}
    t.held = Math.max(t.held, Math.min(1, (swarm.downloaded(t.infoHash) + swarm.reused(t.infoHash)) / Math.max(1, t.bytes)))
    t.uploaded = Math.max(t.uploaded, swarm.uploaded(t.infoHash))
    return { held: Math.round(t.held * 1000) / 1000, uploaded: t.uploaded }
  }

  /** Offline by the device schedule: the round in hand is dropped, announcements are ignored until online again. */
  private onAvailability (online: boolean): void {
    if (!online) this.task?.controller.abort()
    this.setState(online ? 'idle' : 'offline')
  }

  private setState (state: ClientState): void {
    // A round task winding down after going offline does not bring the client back.
    this.state = this.device?.online === false ? 'offline' : state
    this.session?.publishStatus()
  }

  /** A round message from the server: a round end stops that round's task; a newer round this client is selected for starts one. */
  private onRound (m: RoundMessage): void {
    if (m.type === 'round-end') {
      if (this.task?.round === m.round) this.task.controller.abort()
      return
    }
    if (m.round <= this.lastRound || !m.selected.includes(this.clientId) || Date.now() > m.deadline || this.device?.online === false) return
    this.lastRound = m.round
    this.task?.controller.abort()
    const infoHash = magnetInfoHash(m.magnet)
    this.roundSwarm = infoHash != null ? { infoHash, bytes: m.bytes, held: 0, uploaded: 0 } : undefined
    const uploads = this.uploads!
    // Shards may arrive from faster clients before this one even holds the model.
    if (m.upload != null) uploads.begin({ jobId: m.jobId, round: m.round, ...m.upload })
    else uploads.drop()
    const session = this.session!
    const { controller, release } = childController(this.controller.signal)
    const task: Task = { round: m.round, controller, done: Promise.resolve() }
    task.done = runRoundTask({
      config: this.config,
      clientId: this.clientId,
      log: this.log,
      node: this.node!,
      swarm: this.swarm!,
      serverPeer: () => session.serverPeer,
      serverHost: () => session.serverHost,
      backend: this.backend,
      model: this.model,
      data: () => this.data,
      partitionIndex: () => this.partitionIndex,
      setState: (state) => { this.setState(state) },
      uploads,
      device: this.device,
      lifetime: this.controller.signal,
      metrics: this.roundMetrics
    }, m, controller.signal)
      .catch((err: unknown) => {
        const abandoned = isCode(err, 'ABORTED') || controller.signal.aborted
        this.roundMetrics.round(abandoned ? 'abandoned' : 'failed')
        if (abandoned) this.log.info('round abandoned', { round: m.round, reason: errorMessage(err) })
        else this.log.error('round failed', { round: m.round, reason: errorMessage(err) })
      })
      .finally(() => { release(); if (this.task === task) { this.task = undefined; this.setState('idle') } })
    this.task = task
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller.abort()
    this.session?.stop()
    this.device?.stop()
    this.uploads?.drop()
    this.task?.controller.abort()
    await this.task?.done
    await releasePeerParts({ node: this.node, swarm: this.swarm, model: this.model })
    this.node = undefined
    this.session = undefined
    this.swarm = undefined
    this.model = undefined
  }
}
