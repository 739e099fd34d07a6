/**
 * Moved: each control protocol's messages, parsers and both sides are in src/control/ (login, model, update,
 * receipt, status, round, report). These re-exports remain for code not yet moved over (src/control/contribution.ts
 * and src/upload/upload-peer.ts); import from src/control/ instead, and delete this file once nothing uses it.
 */
export { parseReport } from '../control/report.js'
export type { ClientReport } from '../control/report.js'
export { parseUpdateAck, parseUpdateHeader } from '../control/update.js'
export type { UpdateAck, UpdateHeader } from '../control/update.js'
export { parseReceipt } from '../control/receipt.js'
export type { Receipt } from '../control/receipt.js'
export { parseLoginRequest, parseLoginResponse } from '../control/login.js'
export type { LoginRefusal, LoginRequest, LoginResponse } from '../control/login.js'
export { parseModelRequest } from '../control/model.js'
export type { ModelRequest } from '../control/model.js'
export { CLIENT_STATES, parseHeartbeat } from '../control/status.js'
export type { ClientState, Heartbeat } from '../control/status.js'
export { parseRoundMessage } from '../control/round.js'
export type { Hyper, RoundAnnouncement, RoundEnd, RoundMessage } from '../control/round.js'
export { encodeMessage } from './frames.js'
