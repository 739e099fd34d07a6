import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../atomic-file.js'
import { BtpsError, errorMessage } from '../errors.js'
import { parseModel, serializeModel } from '../model/serialize.js'
import type { NamedTensor } from '../model/serialize.js'
import type { RoundResult } from './round-result.js'
import type { ClientBinding } from './client-registry.js'

/** What a restarted server resumes from: the last finished round, its model, and how far the job was asked to go. */
export interface Checkpoint { round: number, tensors: NamedTensor[], results: RoundResult[], target: number }

/**
 * Global model + round number + results after every round, and the round the queued work runs to, written
 * atomically (temp file, then rename): a kill at any instant leaves the previous checkpoint or the next one.
 */
export class CheckpointStore {
  private readonly dir: string
  private readonly jobId: string

  constructor (dir: string, jobId: string) {
    this.dir = join(dir, jobId)
    this.jobId = jobId
  }

  /** One file per round's model, named in state.json, so the pair is replaced as one: model, then state. */
  modelPath (round: number): string { return join(this.dir, `model-${String(round).padStart(6, '0')}.bin`) }
  private get statePath (): string { return join(this.dir, 'state.json') }
  private get clientsPath (): string { return join(this.dir, 'clients.json') }

  /** Which peer key holds each client id (and its partition and record), so a restart cannot be used to take ids. */
  saveClients (bindings: readonly ClientBinding[]): void {
    writeFileAtomic(this.clientsPath, JSON.stringify({ jobId: this.jobId, clients: bindings }))
  }

  /** The saved bindings (none when there are none); a file that cannot be read is an error, like the checkpoint. */
  loadClients (): ClientBinding[] {
    if (!existsSync(this.clientsPath)) return []
    const bad = (why: string): never => { throw new BtpsError('CHECKPOINT_INVALID', `checkpoint ${this.clientsPath}: ${why}; move it away to start the job afresh`) }
    let doc: { jobId?: unknown, clients?: unknown }
    try {
      doc = JSON.parse(readFileSync(this.clientsPath, 'utf8')) as typeof doc
    } catch (err) {
      return bad(`unreadable (${errorMessage(err)})`)
    }
    if (doc.jobId !== this.jobId) return bad(`holds job ${JSON.stringify(doc.jobId)}`)
    if (!Array.isArray(doc.clients)) return bad('has no client list')
    return doc.clients.map((c: Partial<ClientBinding>, i) => {
      const ok = typeof c.clientId === 'string' && typeof c.peerId === 'string' && Number.isInteger(c.partition) && Number.isInteger(c.rejected) && typeof c.excluded === 'boolean'
      return ok ? { clientId: c.clientId, peerId: c.peerId, partition: c.partition, rejected: c.rejected, excluded: c.excluded } as ClientBinding : bad(`clients[${i}] is not a client binding`)
    })
  }

  private writeState (round: number, target: number, results: RoundResult[]): void {
    writeFileAtomic(this.statePath, JSON.stringify({ jobId: this.jobId, round, target, results }, null, 1))
  }

  /**
   * After a round: the new model, then the state that names it, then the previous model goes. `file`: the model
   * already serialized for this round (a round that did not change it), written as it is.
   */
  save (cp: Checkpoint, file?: Uint8Array): void {
    writeFileAtomic(this.modelPath(cp.round), file ?? serializeModel({ jobId: this.jobId, round: cp.round }, cp.tensors))
    this.writeState(cp.round, cp.target, cp.results)
    for (const name of readdirSync(this.dir)) {
      if (/^model-\d+\.bin$/.test(name) && join(this.dir, name) !== this.modelPath(cp.round)) rmSync(join(this.dir, name), { force: true })
    }
  }

  /** When rounds are queued: only the target moves. */
  saveTarget (round: number, target: number, results: RoundResult[]): void {
    this.writeState(round, target, results)
  }

  /** undefined when there is no checkpoint; a checkpoint that cannot be read is an error, never silently dropped. */
  load (): Checkpoint | undefined {
    if (!existsSync(this.statePath)) return undefined
    const bad = (why: string): never => { throw new BtpsError('CHECKPOINT_INVALID', `checkpoint ${this.dir}: ${why}; move it away to start the job afresh`) }
    let state: { jobId?: unknown, round?: unknown, target?: unknown, results?: unknown }
    try {
      state = JSON.parse(readFileSync(this.statePath, 'utf8')) as typeof state
    } catch (err) {
      return bad(`state.json is unreadable (${errorMessage(err)})`)
    }
    const round = state.round
    if (state.jobId !== this.jobId) return bad(`state.json is for job ${JSON.stringify(state.jobId)}`)
    if (typeof round !== 'number' || !Number.isInteger(round) || round < 0) return bad('state.json has no round number')
    if (!Array.isArray(state.results)) return bad('state.json has no results')
    const target = typeof state.target === 'number' && Number.isInteger(state.target) ? Math.max(state.target, round) : round
    if (round === 0) return { round, tensors: [], results: [], target }
    const path = this.modelPath(round)
    if (!existsSync(path)) return bad(`the model of round ${round} (${path}) is missing`)
    let model: ReturnType<typeof parseModel>
    try {
      model = parseModel(readFileSync(path))
    } catch (err) {
      return bad(`${path} is unreadable (${errorMessage(err)})`)
    }
    if (model.header.round !== round || model.header.jobId !== this.jobId) return bad(`${path} holds ${model.header.jobId} round ${model.header.round}`)
    return { round, tensors: model.tensors, results: state.results as RoundResult[], target }
  }
}
