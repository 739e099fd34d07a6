import { sleep } from '../abort.js'
import { errorMessage, isCode } from '../errors.js'
import type { AdminClient } from './admin-client.js'
import type { RoundResult } from '../server/round-result.js'
import type { PhaseBars } from './phase-bars.js'

/** How long --wait rides out an unreachable server: a restarted one resumes the queued rounds by itself. */
const UNREACHABLE_GRACE_MS = 180_000

/**
 * Follows rounds first..last on the server, printing a line whenever something changes (with `bars`, the open
 * round's progress is drawn as bars instead); returns their results.
 */
export async function followRounds (admin: AdminClient, first: number, last: number, print: (line: string) => void, signal?: AbortSignal, bars?: PhaseBars): Promise<RoundResult[]> {
  let previous = ''
  let unreachableSince = 0
  for (;;) {
    let s
    try {
      s = await admin.status()
      unreachableSince = 0
    } catch (err) {
      if (!isCode(err, 'SERVER_UNREACHABLE')) throw err
      unreachableSince ||= Date.now()
      if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err
      const line = `server unreachable, waiting for it to come back (${errorMessage(err)})`
      if (line !== previous) { print(line); previous = line }
      await sleep(1000, signal)
      continue
    }
    const done = s.results.filter(r => r.round >= first && r.round <= last)
    let line: string
    if (s.current != null) {
      const states = s.clients.filter(c => s.current?.selected.includes(c.clientId)).map(c => c.state)
      const count = (st: string): number => states.filter(x => x === st).length
      line = `round ${s.current.round}/${last}: ${s.current.selected.length} selected | downloading ${count('downloading')} training ${count('training')} uploading ${count('uploading')} | updates ${s.current.accepted.length}`
    } else if (s.state === 'waiting-for-clients') {
      line = `waiting for clients: ${s.clients.filter(c => c.online).length} online`
    } else {
      const r = done.at(-1)
      line = r != null ? `round ${r.round}/${last} done: acc ${r.testAcc1?.toFixed(4) ?? '-'} loss ${r.testLoss?.toFixed(4) ?? '-'} in ${r.roundS.toFixed(1)} s` : `server ${s.state}`
    }
    if (bars != null && s.current != null) bars.update(s, last)
    else if (line !== previous) { bars?.clear(); print(line); previous = line }
    // `bt-ps stop` lowers the target: rounds past it will not run, so they are not waited for.
    const end = Math.min(last, s.target)
    if (done.filter(r => r.round <= end).length >= end - first + 1 && (end === last || s.current == null)) {
      if (end < last) print(`stopped: rounds ${Math.max(first, end + 1)}..${last} will not run (bt-ps stop)`)
      return done
    }
    await sleep(300, signal)
  }
}
