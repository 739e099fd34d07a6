import { createHash } from 'node:crypto'
import type * as TF from '@tensorflow/tfjs'
import type { PeerId } from '@libp2p/interface'
import type { Config } from '../config/schema.js'
import { BtpsError } from '../errors.js'
import type { Logger } from '../logger.js'
import { raceAbort, sleep } from '../abort.js'
import { readWeights, writeWeights } from '../model/architectures.js'
import { parseModel, parseModelHeader, serializeModel } from '../model/serialize.js'
import type { NamedTensor, TensorEntry } from '../model/serialize.js'
import { syntheticUpdate } from '../model/synthetic.js'
import type { ClientRoundMetrics } from './client-metrics.js'
import { flatten, modelValues, unflatten } from '../aggregation/shards.js'
import type { Device } from './device.js'
import type { UploadPeer } from '../upload/upload-peer.js'
import type { ControlNode } from '../net/node.js'
import { framed } from '../net/frames.js'
import { MODEL_PROTOCOL, fetchModel } from '../control/model.js'
import { RECEIPT_PROTOCOL, sendReceipt } from '../control/receipt.js'
import type { ClientReport } from '../control/report.js'
import type { RoundAnnouncement } from '../control/round.js'
import type { ClientState } from '../control/status.js'
import { UPDATE_PROTOCOL, sendUpdate } from '../control/update.js'
import type { SwarmPeer } from '../swarm/swarm-peer.js'
import { magnetInfoHash } from '../swarm/metainfo.js'
import type { Backend } from '../training/backend.js'
import type { Dataset } from '../training/mnist.js'
import { trainLocal } from '../training/trainer.js'
import { fetchFromSwarm } from './swarm-fetch.js'

export interface RoundTaskContext {
  config: Config
  clientId: string
  log: Logger
  node: ControlNode
  swarm: SwarmPeer
  /** the server logged in to now, and the host its BitTorrent peer is dialled at */
  serverPeer: () => PeerId | undefined
  serverHost: () => string
  backend?: Backend
  model?: TF.Sequential
  /** this client's data partition and its index now (a re-login may change them) */
  data: () => Dataset | undefined
  partitionIndex: () => number
  setState: (state: ClientState) => void
  /** this client's part in swarm uploads (shards it owns, shards it sends) */
  uploads: UploadPeer
  /** the device profile it plays: training padded to its speed, updates sent through its uplink */
  device?: Device
  /**
   * A process of many client ids fetches each round's model once for all of them, so a profile's downlink is not a
   * cap on its swarm peer: each id's download is instead padded to what its downlink would have taken.
   */
  padDownload: boolean
  /** runs local training: one model per process, so its client ids train in turn */
  trainInTurn: <T>(fn: () => Promise<T>) => Promise<T>
  /** the client's whole life: an admitted contribution's shards still go out after the round ends at the server */
  lifetime: AbortSignal
  metrics: ClientRoundMetrics
}

interface Held { downloadS: number, heldAt: number, fromServer: number, fromPeers: number, reused: number }

/** The round's model as this process got it, shared by the client ids it runs that were selected. */
export interface RoundModel { bytes: Uint8Array, got: Held, infoHash?: string }

export type FetchContext = Pick<RoundTaskContext, 'config' | 'log' | 'node' | 'swarm' | 'serverPeer' | 'serverHost'>

const need = <T>(v: T | undefined): T => {
  if (v == null) throw new BtpsError('NOT_STARTED', 'client is not started')
  return v
}

/**
 * The round's model, once per process: from the swarm (or straight from the server in `ps` mode), checked to be the
 * announced round's. The caller removes the torrent (`swarm.remove(infoHash)`) when the round is done here.
 */
export async function fetchRoundModel (ctx: FetchContext, ann: RoundAnnouncement, signal: AbortSignal): Promise<RoundModel> {
  const t0 = performance.now()
  let bytes: Uint8Array
  let fromServer = ann.bytes
  let fromPeers = 0
  let reused = 0
  if (ann.transfer === 'bt' && ann.magnet != null) {
    const got = await fetchFromSwarm(ctx.swarm, ann.magnet, {
      sha256: ann.sha256,
      serverPeerId: ann.serverPeerId,
      directPeers: ann.serverPort != null ? [`${ctx.serverHost()}:${ann.serverPort}`] : [],
      fallbackS: ctx.config.client.swarmFallbackS,
      log: ctx.log.child({ round: ann.round }),
      signal
    }, async () => await fetchDirect(ctx, ann, signal))
    bytes = got.bytes
    fromServer = got.fromServer
    fromPeers = got.fromPeers
    reused = got.reused
  } else {
    bytes = await fetchDirect(ctx, ann, signal)
  }
  const { header } = parseModelHeader(bytes)
  if (header.round !== ann.round || header.jobId !== ann.jobId) throw new BtpsError('MODEL_MISMATCH', `model file is ${header.jobId} round ${header.round}, announced ${ann.jobId} round ${ann.round}`)
  return { bytes, got: { downloadS: (performance.now() - t0) / 1000, heldAt: Date.now(), fromServer, fromPeers, reused }, infoHash: magnetInfoHash(ann.magnet) }
}

/**
 * One round this client was selected for: waits for the process's copy of the model, then trains and sends its
 * update, or in a distribution-only round confirms it holds the model. `signal` aborts it (round end, a newer
 * round, offline, stop).
 */
export async function runRoundTask (ctx: RoundTaskContext, ann: RoundAnnouncement, model: Promise<RoundModel>, signal: AbortSignal): Promise<void> {
  ctx.setState('downloading')
  const t0 = performance.now()
  const { bytes, got: fetched, infoHash } = await raceAbort(model, signal)
  let got = fetched
  const downlinkKbps = ctx.device?.profile.downlinkKbps
  if (ctx.padDownload && downlinkKbps != null) {
    const profiledS = (fetched.fromServer + fetched.fromPeers) * 8 / (downlinkKbps * 1000)
    await sleep(Math.max(0, profiledS * 1000 - (performance.now() - t0)), signal)
    got = { ...fetched, downloadS: Math.max(fetched.downloadS, (performance.now() - t0) / 1000), heldAt: Date.now() }
  }
  const { job } = ctx.config
  if (job.task === 'distribute' && job.syntheticUpdate !== 'yes') await confirmHeld(ctx, ann, got, infoHash, signal)
  else await trainAndUpdate(ctx, ann, bytes, got, infoHash, signal)
}

/** `transfer: ps`: the model straight from the server, checked against the announced SHA-256. */
async function fetchDirect (ctx: FetchContext, ann: RoundAnnouncement, signal: AbortSignal): Promise<Uint8Array> {
  const stream = await ctx.node.dialProtocol(need(ctx.serverPeer()), MODEL_PROTOCOL, { signal })
  const bytes = await fetchModel(framed(stream), { jobId: ann.jobId, round: ann.round }, ann.bytes, signal)
  await stream.close().catch(() => {})
  const digest = createHash('sha256').update(bytes).digest('hex')
  if (digest !== ann.sha256) throw new BtpsError('MODEL_HASH_MISMATCH', `model from the server has sha256 ${digest}, announced ${ann.sha256}`)
  return bytes
}

/** Distribution-only round: tell the server the model is here, then keep seeding until the round ends. */
async function confirmHeld (ctx: RoundTaskContext, ann: RoundAnnouncement, got: Held, infoHash: string | undefined, signal: AbortSignal): Promise<void> {
  const stream = await ctx.node.dialProtocol(need(ctx.serverPeer()), RECEIPT_PROTOCOL, { signal })
  const ack = await sendReceipt(framed(stream), { jobId: ann.jobId, round: ann.round, clientId: ctx.clientId, report: report(ctx, got, infoHash, { computeS: 0, utility: 0, meanLoss: 0 }) }, signal)
  await stream.close().catch(() => {})
  ctx.setState('idle')
  ctx.metrics.phase('download', got.downloadS)
  ctx.metrics.round('held')
  ctx.log.info('holds the model', { round: ann.round, seconds: got.downloadS.toFixed(2), accepted: ack.accepted, reason: ack.reason })
  await sleep(Math.max(0, ann.deadline - Date.now()), signal).catch(() => {})
}

function report (ctx: RoundTaskContext, got: Held, infoHash: string | undefined, training: { computeS: number, utility: number, meanLoss: number }): ClientReport {
  return {
    downloadS: got.downloadS,
    heldAt: got.heldAt,
    bytesFromServer: got.fromServer,
    bytesFromPeers: got.fromPeers,
    bytesReused: got.reused,
    bytesUploadedToPeers: infoHash != null ? ctx.swarm.uploaded(infoHash) : 0,
    backend: ctx.backend?.name ?? 'none',
    ...training
  }
}

interface Trained { tensors: NamedTensor[], flat?: Float32Array, samples: number, computeS: number, utility: number, meanLoss: number }

/** Local training on this client's partition, from the round's model. */
async function train (ctx: RoundTaskContext, ann: RoundAnnouncement, bytes: Uint8Array, signal: AbortSignal): Promise<Trained> {
  const { tf } = need(ctx.backend)
  const model = need(ctx.model)
  const data = need(ctx.data())
  // From here on this client is training, also while it waits for the process's other client ids to finish theirs.
  const t0 = performance.now()
  const { result, tensors } = await ctx.trainInTurn(async () => {
    // Parsed in its turn: ids waiting in the queue hold no copy of the model each.
    const global = parseModel(bytes).tensors
    writeWeights(tf, model, global)
    const result = await trainLocal(tf, ctx.config.job.model, model, data, { ...ann.hyper, epochs: ann.hyper.localEpochs, seed: ctx.config.job.seed + ann.round * 1000 + ctx.partitionIndex(), signal }, global)
    return { result, tensors: await readWeights(model) }
  })
  const elapsedS = (performance.now() - t0) / 1000
  // A slower device takes as long as its profile says: the rest of the time is waited out.
  const profiled = ctx.device?.computeS(result.samples * ann.hyper.localEpochs) ?? 0
  if (profiled > elapsedS) await sleep((profiled - elapsedS) * 1000, signal)
  const computeS = Math.max(elapsedS, profiled)
  ctx.log.info('trained', { round: ann.round, samples: result.samples, loss: result.meanLoss.toFixed(4), seconds: computeS.toFixed(2), ...(profiled > 0 || elapsedS > result.seconds * 1.5 ? { measuredS: result.seconds.toFixed(2) } : {}) })
  return { tensors, samples: result.samples, computeS, utility: result.utility, meanLoss: result.meanLoss }
}

/** Whole-round benchmarks: "trains" for job.compute_s, and the update is the model moved by a seeded small step. */
async function synthesize (ctx: RoundTaskContext, ann: RoundAnnouncement, layout: readonly TensorEntry[], global: Float32Array, signal: AbortSignal): Promise<Trained> {
  const t0 = performance.now()
  const seed = createHash('sha256').update(`${ctx.clientId}/${ann.round}`).digest().readUInt32LE(0)
  const flat = syntheticUpdate(global, seed)
  // Making the update is part of the compute time, not added to it.
  await sleep(Math.max(0, ctx.config.job.computeS * 1000 - (performance.now() - t0)), signal)
  return { tensors: unflatten(flat, layout), flat, samples: 1, computeS: (performance.now() - t0) / 1000, utility: 0, meanLoss: 0 }
}

async function trainAndUpdate (ctx: RoundTaskContext, ann: RoundAnnouncement, bytes: Uint8Array, got: Held, infoHash: string | undefined, signal: AbortSignal): Promise<void> {
  const log = ctx.log.child({ round: ann.round })
  log.info('model received', { transfer: ann.transfer, seconds: got.downloadS.toFixed(2), fromPeersMB: (got.fromPeers / 1e6).toFixed(2), fromServerMB: (got.fromServer / 1e6).toFixed(2), reusedMB: (got.reused / 1e6).toFixed(2) })
  const { header } = parseModelHeader(bytes)
  const globalFlat = modelValues(bytes)
  if (ann.upload != null) ctx.uploads.hold(ann.round, globalFlat, locator(header.tensors))
  ctx.setState('training')
  const trained = ctx.config.job.task === 'train' ? await train(ctx, ann, bytes, signal) : await synthesize(ctx, ann, header.tensors, globalFlat, signal)
  ctx.setState('uploading')
  ctx.metrics.phase('download', got.downloadS)
  ctx.metrics.phase('training', trained.computeS)
  const uploadStart = performance.now()
  const rep = report(ctx, got, infoHash, { computeS: trained.computeS, utility: trained.utility, meanLoss: trained.meanLoss })
  let answer
  if (ann.upload != null) {
    const declared = { jobId: ann.jobId, round: ann.round, clientId: ctx.clientId, report: rep, tensors: trained.tensors.map(t => ({ name: t.name, shape: t.shape, dtype: t.dtype })) }
    // Once admitted, the shards go out even if the round ends at the server meanwhile: it is waiting for them.
    answer = await ctx.uploads.contribute({ jobId: ann.jobId, round: ann.round, peers: ann.upload.peers }, trained.flat ?? flatten(trained.tensors), globalFlat, declared, ctx.lifetime)
  } else {
    const update = serializeModel({ jobId: ann.jobId, round: ann.round }, trained.tensors)
    const stream = await ctx.node.dialProtocol(need(ctx.serverPeer()), UPDATE_PROTOCOL, { signal })
    answer = await sendUpdate(framed(stream), { jobId: ann.jobId, round: ann.round, clientId: ctx.clientId, samples: trained.samples, report: rep }, update, signal, ctx.device?.uplink)
    await stream.close().catch(() => {})
  }
  ctx.metrics.phase('upload', (performance.now() - uploadStart) / 1000)
  ctx.metrics.round(answer.accepted ? 'accepted' : 'refused')
  if (answer.accepted) log.info('update accepted', { upload: ann.upload != null ? 'swarm' : 'direct' })
  else log.warn('update refused', { reason: answer.reason })
}

/** Names a flat index of the model (`dense/kernel[12]`), for reasons an owner gives. */
function locator (tensors: readonly TensorEntry[]): (flatIndex: number) => string {
  const starts: number[] = []
  let at = 0
  for (const t of tensors) { starts.push(at); at += t.byteLength / 4 }
  return (i) => {
    let k = starts.length - 1
    while (k > 0 && starts[k] > i) k--
    return `${tensors[k].name}[${i - starts[k]}]`
  }
}
