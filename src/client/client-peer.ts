import type * as TF from '@tensorflow/tfjs'
import type { Config } from '../config/schema.js'
import { BtpsError, errorMessage, isCode } from '../errors.js'
import type { Logger } from '../logger.js'
import { childController, lifetimeController, raceAbort } from '../abort.js'
import { setMaxListeners } from 'node:events'
import { buildModel } from '../model/architectures.js'
import { createControlNode } from '../net/node.js'
import { loadOrCreatePeerKey } from '../net/peer-key.js'
import { loadPsk } from '../net/psk.js'
import { releasePeerParts } from '../net/peer-parts.js'
import type { ControlNode } from '../net/node.js'
import type { LoginResponse } from '../control/login.js'
import type { RoundAnnouncement, RoundMessage } from '../control/round.js'
import type { ClientState } from '../control/status.js'
import { SwarmPeer } from '../swarm/swarm-peer.js'
import { magnetInfoHash } from '../swarm/metainfo.js'
import { chooseBackend } from '../training/backend.js'
import type { Backend } from '../training/backend.js'
import { subset } from '../training/mnist.js'
import { loadDataset } from '../training/datasets.js'
import type { Dataset } from '../training/mnist.js'
import { partition } from '../training/partition.js'
import { fetchRoundModel, runRoundTask } from './round-task.js'
import type { RoundModel } from './round-task.js'
import { identityIds } from './client-identity.js'
import type { ClientIdentity, Task } from './client-identity.js'
import { ServerSession } from './server-session.js'
import { UploadPeer } from '../upload/upload-peer.js'
import type { Registry } from 'prom-client'
import { unscrapedRegistry } from '../prometheus/registry.js'
import { SwarmMetrics } from '../swarm/swarm-metrics.js'
import { ClientRoundMetrics } from './client-metrics.js'
import { Device } from './device.js'
import { loadProfiles, profileFor } from '../profiles/device-profiles.js'
import type { ProfileTable as DeviceProfiles } from '../profiles/device-profiles.js'

/**
 * A client's default id: the end of its peer id, so ids differ across hosts and containers (a pid does not) and
 * stay the same across restarts when the key is kept (`client.key_file`).
 */
export const defaultClientId = (peerId: string): string => `client-${peerId.slice(-10)}`

/**
 * A client process: one libp2p node, one BitTorrent peer, one tfjs backend and one copy of the data, running one
 * client id (`bt-ps client`) or many (`bt-ps clients --count N`). It logs its ids in to the job's server; for every
 * round that selects some of them it gets the model once (from the swarm, or directly in `ps` mode), trains each
 * selected id on its own partition in turn, sends each id's update and seeds meanwhile.
 */
export class ClientPeer {
  /** the client ids this process runs (`client.id`, or derived from the peer id once the node is up) */
  get clientIds (): string[] { return this.identities.map(c => c.clientId) }
  /** the first (with one, the only) client id */
  get clientId (): string { return this.identities[0]?.clientId ?? this.config.client.id }
  get partitionIndex (): number { return this.identities[0]?.partitionIndex ?? -1 }

  /** This process's libp2p identity and listening addresses (empty before start). */
  get peerId (): string { return this.node?.peerId.toString() ?? '' }
  get multiaddrs (): string[] { return this.node?.getMultiaddrs().map(String) ?? [] }
  backend?: Backend
  private readonly config: Config
  private readonly log: Logger
  private node?: ControlNode
  private swarm?: SwarmPeer
  private session?: ServerSession
  private model?: TF.Sequential
  private train?: Dataset
  private parts?: { count: number, indices: number[][] }
  private uploads?: UploadPeer
  private identities: ClientIdentity[] = []
  private byId = new Map<string, ClientIdentity>()
  /** the round whose model this process holds or is getting, and its client ids still working on it */
  private round?: ProcessRound
  /** the last finished round's torrent being removed (stop waits for it) */
  private removing: Promise<void> = Promise.resolve()
  /** one model per process: its client ids train in turn */
  private training: Promise<unknown> = Promise.resolve()
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
      this.createIdentities(node.peerId.toString(), job.profiles !== '' ? loadProfiles(job.profiles) : undefined)
      this.uploads = new UploadPeer({ log: this.log.child({ component: 'upload' }), node, signal: this.controller.signal }, { server: () => this.session?.serverPeer, idleMs: this.config.server.uploadStallS * 1000 })
      await this.uploads.start()
      const single = this.identities.length === 1 ? this.identities[0].device : undefined
      // One client id: its profile's links cap this peer's swarm traffic for real. Many share the peer (see RoundTaskContext.padDownload).
      if (single != null) this.swarm.limitLinks(single.uplink, single.downlinkBytesPerS)
      for (const c of this.identities) c.device?.start()
      if (this.identities.length > 1) this.log.info('client ids', { count: this.identities.length, first: this.identities[0].clientId, last: this.identities[this.identities.length - 1].clientId })
      this.session = new ServerSession({
        config: this.config,
        clientIds: this.clientIds,
        node,
        log: this.log,
        signal: this.controller.signal,
        backend: () => this.backend?.name ?? 'none',
        status: (clientId) => this.heartbeat(need(this.byId.get(clientId))),
        onLogin: (clientId, res) => this.onLogin(need(this.byId.get(clientId)), res),
        onRound: (m) => { this.onRound(m) }
      })
      await this.session.start()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  private createIdentities (peerId: string, profiles?: DeviceProfiles): void {
    const { client, job } = this.config
    const ids = client.count === 1
      ? [client.id !== '' ? client.id : defaultClientId(peerId)]
      : identityIds(client.idPrefix !== '' ? client.idPrefix : defaultClientId(peerId), client.count)
    this.identities = ids.map(clientId => {
      const log = client.count === 1 ? this.log : this.log.child({ client: clientId })
      const c: ClientIdentity = { clientId, log, state: 'idle', partitionIndex: -1, lastRound: 0 }
      if (profiles != null) c.device = new Device(profileFor(profiles, clientId, job.seed), log, (online) => { this.onAvailability(c, online) })
      return c
    })
    this.byId = new Map(this.identities.map(c => [c.clientId, c]))
  }

  /** Loads a client id's data partition on its first login (or when the server hands it another one). */
  private onLogin (c: ClientIdentity, res: LoginResponse): { samples?: number } {
    if (this.config.job.task === 'train' && (c.data == null || c.partitionIndex !== res.partition)) c.data = this.loadPartition(res.partition, res.partitions)
    c.partitionIndex = res.partition
    // A server that restarted from its checkpoint runs its unfinished round again under the same number: what this
    // process holds of the old run of it (download, tasks, shards) goes.
    if (this.round != null && res.round < this.round.number) this.endRound(this.round)
    if (res.round < c.lastRound) {
      c.task?.controller.abort()
      c.lastRound = res.round
    }
    return { samples: c.data?.size }
  }

  /** One partition of the data; the dataset is read and split once per process, whatever the number of client ids. */
  private loadPartition (index: number, count: number): Dataset {
    const { job } = this.config
    const train = this.train ??= loadDataset(job).train
    if (this.parts?.count !== count) this.parts = { count, indices: partition(train.y, { kind: job.partition, clients: count, seed: job.seed, alpha: job.alpha, groups: train.groups }) }
    // The model's input and output follow the data (CIFAR-10 images are 32×32×3, FEMNIST has 62 classes).
    if (this.backend != null) this.model ??= buildModel(this.backend.tf, job.model, job.seed, { hiddenUnits: job.hiddenUnits, frozenLayers: job.frozenLayers, input: train })
    return subset(train, this.parts.indices[index])
  }

  /** What a client id's heartbeat says: its state and round, and, while it works on the round, how much of the model this process holds and has sent to peers. */
  private heartbeat (c: ClientIdentity): { state: ClientState, round: number, held?: number, uploaded?: number } {
    const round = c.task?.round ?? c.lastRound
    const r = this.round
    const swarm = this.swarm
    if (r?.infoHash == null || r.number !== c.lastRound || swarm == null) return { state: c.state, round }
    // Kept as the most seen: once the torrent goes, the swarm counts nothing for it.
    r.held = Math.max(r.held, Math.min(1, (swarm.downloaded(r.infoHash) + swarm.reused(r.infoHash)) / Math.max(1, r.bytes)))
    r.uploaded = Math.max(r.uploaded, swarm.uploaded(r.infoHash))
    return { state: c.state, round, held: Math.round(r.held * 1000) / 1000, uploaded: r.uploaded }
  }

  /** Offline by the device schedule: the round in hand is dropped, announcements are ignored until online again. */
  private onAvailability (c: ClientIdentity, online: boolean): void {
    if (!online) c.task?.controller.abort()
    this.setState(c, online ? 'idle' : 'offline')
  }

  private setState (c: ClientIdentity, state: ClientState): void {
    // A round task winding down after going offline does not bring the client back.
    c.state = c.device?.online === false ? 'offline' : state
    this.session?.statusChanged(c.clientId)
  }

  /** A round message from the server: a round end stops that round's tasks; a newer round starts one per selected client id of this process. */
  private onRound (m: RoundMessage): void {
    if (m.type === 'round-end') {
      if (this.round?.number === m.round) this.endRound(this.round)
      return
    }
    // A late re-announcement of an older round does not end the newer one.
    if (Date.now() > m.deadline || (this.round != null && m.round < this.round.number)) return
    const selected = m.selected.flatMap(id => {
      const c = this.byId.get(id)
      return c != null && m.round > c.lastRound && c.device?.online !== false ? [c] : []
    })
    if (selected.length === 0) return
    const current = this.round
    const same = current != null && current.number === m.round && current.sha256 === m.sha256 && !current.controller.signal.aborted
    // A newer round ends the older one here (its tasks, its download).
    if (current != null && !same) this.endRound(current)
    const round = same ? current : this.beginRound(m)
    for (const c of selected) this.startTask(c, m, round)
  }

  /** Ends a round here: its tasks and download stop, its torrent goes once the tasks are done. */
  private endRound (round: ProcessRound): void {
    round.controller.abort()
    round.release()
    if (this.round === round) this.round = undefined
  }

  private beginRound (m: RoundAnnouncement): ProcessRound {
    const { controller, release } = childController(this.controller.signal)
    // Every selected client id of this process listens to the round's signal.
    setMaxListeners(0, controller.signal)
    const model = fetchRoundModel({ config: this.config, log: this.log, node: this.node!, swarm: this.swarm!, serverPeer: () => this.session?.serverPeer, serverHost: () => this.session?.serverHost ?? '127.0.0.1' }, m, controller.signal)
    // Each task awaits it; a failed download is reported by them.
    model.catch(() => {})
    const round: ProcessRound = { number: m.round, sha256: m.sha256, controller, release, model, infoHash: magnetInfoHash(m.magnet), bytes: m.bytes, working: 0, held: 0, uploaded: 0 }
    this.round = round
    // Shards may arrive from faster clients before this one even holds the model. The server plans swarm upload only
    // with one client per peer, so at most one of this process's ids owns a shard.
    const owner = m.upload?.peers.find(p => this.byId.has(p.clientId))
    if (m.upload != null && owner != null) this.uploads!.begin({ jobId: m.jobId, round: m.round, clientId: owner.clientId, uplink: this.byId.get(owner.clientId)?.device?.uplink, ...m.upload })
    else this.uploads!.drop()
    return round
  }

  private startTask (c: ClientIdentity, m: RoundAnnouncement, round: NonNullable<ClientPeer['round']>): void {
    c.lastRound = m.round
    c.task?.controller.abort()
    const { controller, release } = childController(round.controller.signal)
    const task: Task = { round: m.round, controller, done: Promise.resolve() }
    round.working++
    task.done = runRoundTask({
      config: this.config,
      clientId: c.clientId,
      log: c.log,
      node: this.node!,
      swarm: this.swarm!,
      serverPeer: () => this.session?.serverPeer,
      serverHost: () => this.session?.serverHost ?? '127.0.0.1',
      backend: this.backend,
      model: this.model,
      data: () => c.data,
      partitionIndex: () => c.partitionIndex,
      setState: (state) => { this.setState(c, state) },
      uploads: this.uploads!,
      device: c.device,
      padDownload: this.identities.length > 1,
      trainInTurn: async (fn) => await this.trainInTurn(fn, controller.signal),
      lifetime: this.controller.signal,
      metrics: this.roundMetrics
    }, m, round.model, controller.signal)
      .catch((err: unknown) => {
        const abandoned = isCode(err, 'ABORTED') || controller.signal.aborted
        this.roundMetrics.round(abandoned ? 'abandoned' : 'failed')
        if (abandoned) c.log.info('round abandoned', { round: m.round, reason: errorMessage(err) })
        else c.log.error('round failed', { round: m.round, reason: errorMessage(err) })
      })
      .finally(() => {
        release()
        if (c.task === task) { c.task = undefined; this.setState(c, 'idle') }
        // The last of this process's client ids done with the round: its download stops if still going, the torrent goes.
        if (--round.working === 0) {
          this.endRound(round)
          const swarm = this.swarm
          this.removing = this.removing.then(async () => { await swarm?.remove(round.infoHash) }).catch((err: unknown) => { this.log.warn('torrent not removed', { round: round.number, reason: errorMessage(err) }) })
        }
      })
    c.task = task
  }

  /**
   * Runs `fn` once the training before it is done: the process's one model is trained by one client id at a time.
   * An id whose task is aborted while it waits leaves the queue at once (its turn then passes without training).
   */
  private async trainInTurn<T> (fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const turn = this.training.then(async () => { signal.throwIfAborted(); return await fn() })
    this.training = turn.catch(() => {})
    return await raceAbort(turn, signal)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller.abort()
    this.session?.stop()
    for (const c of this.identities) { c.device?.stop(); c.task?.controller.abort() }
    this.uploads?.drop()
    await Promise.all(this.identities.map(async c => await c.task?.done))
    await this.removing
    await releasePeerParts({ node: this.node, swarm: this.swarm, model: this.model })
    this.node = undefined
    this.session = undefined
    this.swarm = undefined
    this.model = undefined
  }
}

/** A round as this process takes part in it: its model (fetched once), and its client ids still working on it. */
interface ProcessRound {
  number: number
  sha256: string
  controller: AbortController
  /** detaches the round's signal from the process's lifetime */
  release: () => void
  model: Promise<RoundModel>
  infoHash?: string
  bytes: number
  working: number
  /** the most of the model seen held here, and model bytes sent to peers (kept once the torrent goes) */
  held: number
  uploaded: number
}

function need<T> (v: T | undefined): T {
  if (v == null) throw new BtpsError('NOT_STARTED', 'unknown client id')
  return v
}
