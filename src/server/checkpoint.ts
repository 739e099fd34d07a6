import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseModel, serializeModel } from '../model/serialize.js'
import type { NamedTensor } from '../model/serialize.js'
import type { RoundResult } from './round-result.js'

export interface Checkpoint { round: number, tensors: NamedTensor[], results: RoundResult[] }

/** Global model + round number + results after every round, written atomically (temp file, then rename). */
export class CheckpointStore {
  private readonly dir: string
  private readonly jobId: string

  constructor (dir: string, jobId: string) {
    this.dir = join(dir, jobId)
    this.jobId = jobId
  }

  get modelPath (): string { return join(this.dir, 'model.bin') }
  private get statePath (): string { return join(this.dir, 'state.json') }

  save (cp: Checkpoint): void {
    mkdirSync(this.dir, { recursive: true })
    const write = (path: string, data: Uint8Array | string): void => { writeFileSync(path + '.tmp', data); renameSync(path + '.tmp', path) }
    write(this.modelPath, serializeModel({ jobId: this.jobId, round: cp.round }, cp.tensors))
    write(this.statePath, JSON.stringify({ jobId: this.jobId, round: cp.round, results: cp.results }, null, 1))
  }

  load (): Checkpoint | undefined {
    if (!existsSync(this.statePath) || !existsSync(this.modelPath)) return undefined
    const state = JSON.parse(readFileSync(this.statePath, 'utf8')) as { round: number, results: RoundResult[] }
    const model = parseModel(readFileSync(this.modelPath))
    if (model.header.round !== state.round) return undefined
    return { round: state.round, tensors: model.tensors, results: state.results }
  }
}
