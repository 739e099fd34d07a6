import { id, int, record } from '../net/validate.js'
import { readJson, writeJson } from '../net/frames.js'
import type { FramedStream } from '../net/frames.js'
import { parseReport } from './report.js'
import type { ClientReport } from './report.js'
import { parseUpdateAck } from './update.js'
import type { UpdateAck } from './update.js'

/**
 * `/bt-ps/receipt/1.0.0` (`task: distribute`): instead of an update, a client confirms it holds the round's verified
 * model, with its report; the server answers with the same ack as for an update.
 */
export const RECEIPT_PROTOCOL = '/bt-ps/receipt/1.0.0'

export interface Receipt { jobId: string, round: number, clientId: string, report: ClientReport }

export function parseReceipt (v: unknown): Receipt {
  const m = record(v, 'receipt', ['jobId', 'round', 'clientId', 'report'])
  return { jobId: id(m.jobId, 'receipt.jobId'), round: int(m.round, 'receipt.round'), clientId: id(m.clientId, 'receipt.clientId'), report: parseReport(m.report, 'receipt.report') }
}

/** Client side: sends the receipt and returns the server's ack. */
export async function sendReceipt (lp: FramedStream, receipt: Receipt, signal?: AbortSignal): Promise<UpdateAck> {
  await writeJson(lp, receipt, signal)
  return parseUpdateAck(await readJson(lp, 'receipt ack', signal))
}

/** Server side: reads a receipt. */
export async function readReceipt (lp: FramedStream, signal?: AbortSignal): Promise<Receipt> {
  return parseReceipt(await readJson(lp, 'receipt', signal))
}

/** Server side: the ack. */
export async function answerReceipt (lp: FramedStream, ack: UpdateAck): Promise<void> {
  await writeJson(lp, ack)
}
