import { id, int, num, record, str } from '../net/validate.js'
import { readJson, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'

/**
 * `/bt-ps/login/1.0.0`: a client names itself and its backend; the server answers with the job, the client's data
 * partition and the round it is at, or refuses saying why (every partition taken, the id bound to another key).
 */
export const LOGIN_PROTOCOL = '/bt-ps/login/1.0.0'

/** `listenPort`: where the client's libp2p node listens, so other clients can send it shards (`job.upload: swarm`). */
export interface LoginRequest { clientId: string, backend: string, listenPort?: number }
export interface LoginResponse { ok: true, jobId: string, partition: number, partitions: number, round: number }
/** `retryAfterS`: the refusal may lift by then (the id's holder has until then to come back), so try again */
export interface LoginRefusal { ok: false, reason: string, retryAfterS?: number }

export function parseLoginRequest (v: unknown): LoginRequest {
  const m = record(v, 'login', ['clientId', 'backend', 'listenPort'])
  const req: LoginRequest = { clientId: id(m.clientId, 'clientId'), backend: str(m.backend, 'backend', 64) }
  if (m.listenPort !== undefined) req.listenPort = int(m.listenPort, 'listenPort', 1, 65535)
  return req
}

export function parseLoginResponse (v: unknown): LoginResponse | LoginRefusal {
  const m = record(v, 'login response')
  if (m.ok === false) return { ok: false, reason: str(m.reason, 'reason', 1024), ...(m.retryAfterS !== undefined ? { retryAfterS: num(m.retryAfterS, 'retryAfterS', 0, 3600) } : {}) }
  const r = record(m, 'login response', ['ok', 'jobId', 'partition', 'partitions', 'round'])
  const partitions = int(r.partitions, 'partitions', 1, 1e6)
  return { ok: true, jobId: id(r.jobId, 'jobId'), partition: int(r.partition, 'partition', 0, partitions - 1), partitions, round: int(r.round, 'round') }
}

/** Client side: sends the login and returns the server's answer (the caller closes the stream). */
export async function login (lp: FramedStream, req: LoginRequest, signal?: AbortSignal): Promise<LoginResponse | LoginRefusal> {
  await writeJson(lp, req)
  return parseLoginResponse(await readJson(lp, 'login response', signal))
}

/** Server side: reads a login request. */
export async function readLoginRequest (lp: FramedStream, signal?: AbortSignal): Promise<LoginRequest> {
  return parseLoginRequest(await readJson(lp, 'login', signal))
}

/** Server side: admits (job, partition, round) or refuses with a reason. */
export async function answerLogin (lp: FramedStream, answer: LoginResponse | LoginRefusal): Promise<void> {
  await writeJson(lp, answer)
}
