import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { InvalidInputError } from '../errors.js'

/**
 * What one kind of device can do: compute speed (ms of training per sample), link rates, and when it is online.
 * Absent fields impose nothing.
 */
export interface DeviceProfile {
  name: string
  computeMsPerSample?: number
  uplinkKbps?: number
  downlinkKbps?: number
  /** online intervals [from, to) in seconds since the client started; outside them it is offline */
  online?: Array<[number, number]>
  /** the intervals repeat with this period (s); without it the device stays offline after the last interval */
  cycleS?: number
}

export interface ProfileTable { profiles: DeviceProfile[], byClient: Map<string, string> }

const bad = (path: string, where: string, message: string): InvalidInputError => new InvalidInputError('PROFILES_INVALID', `job.profiles (${path})${where}`, message)

/**
 * Reads a profile file. JSON, either bt-ps's own shape
 *   { "profiles": [{ "name", "compute_ms_per_sample", "uplink_kbps", "downlink_kbps", "online": [[from, to], …], "cycle_s" }],
 *     "clients": { "<client id>": "<profile name>" } }
 * or FedScale's traces keyed by device: device capacity `{ "<id>": { "computation": ms per sample, "communication":
 * kbps } }` and/or behaviour `{ "<id>": { "active": [t…], "inactive": [t…], "finish_time": s } }` (both in one entry
 * is fine). Or CSV with a header naming name, compute_ms_per_sample, uplink_kbps, downlink_kbps and optionally online
 * ("0-600;900-1800") and cycle_s.
 */
export function loadProfiles (path: string): ProfileTable {
  let text: string
  try { text = readFileSync(path, 'utf8') } catch (err) { throw bad(path, '', (err as Error).message) }
  const table = path.endsWith('.csv') ? parseCsv(path, text) : parseJson(path, text)
  if (table.profiles.length === 0) throw bad(path, '', 'holds no profiles')
  const names = new Set(table.profiles.map(p => p.name))
  for (const [client, name] of table.byClient) if (!names.has(name)) throw bad(path, `.clients.${client}`, `names profile ${JSON.stringify(name)}, which the file does not define`)
  return table
}

/** A client's profile: the one the file names for its id, else one drawn by the job's seed (stable per client). */
export function profileFor (table: ProfileTable, clientId: string, seed: number): DeviceProfile {
  const named = table.byClient.get(clientId)
  if (named != null) return table.profiles.find(p => p.name === named)!
  const h = createHash('sha256').update(`${seed}/${clientId}`).digest().readUInt32LE(0)
  return table.profiles[h % table.profiles.length]
}

/** Whether a device with `profile` is online `atS` seconds after it started. */
export function isOnline (profile: DeviceProfile, atS: number): boolean {
  const spans = profile.online
  if (spans == null) return true
  const t = profile.cycleS != null && profile.cycleS > 0 ? atS % profile.cycleS : atS
  return spans.some(([from, to]) => t >= from && t < to)
}

function num (path: string, where: string, v: unknown, min = 0): number | undefined {
  if (v === undefined || v === null || v === '') return undefined
  const n = typeof v === 'string' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min) throw bad(path, where, `${JSON.stringify(v)} is not a number ≥ ${min}`)
  return n
}

function spans (path: string, where: string, v: unknown): Array<[number, number]> | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || !v.every(s => Array.isArray(s) && s.length === 2 && s.every(x => typeof x === 'number' && Number.isFinite(x) && x >= 0) && s[0] < s[1])) {
    throw bad(path, where, 'expected a list of [from, to] pairs of seconds, from < to')
  }
  return v as Array<[number, number]>
}

function parseJson (path: string, text: string): ProfileTable {
  let doc: unknown
  try { doc = JSON.parse(text) } catch (err) { throw bad(path, '', `is not JSON: ${(err as Error).message}`) }
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw bad(path, '', 'expected an object')
  const o = doc as Record<string, unknown>
  if (Array.isArray(o.profiles)) {
    const profiles = o.profiles.map((p: unknown, i: number): DeviceProfile => {
      const w = `.profiles[${i}]`
      const r = (p ?? {}) as Record<string, unknown>
      if (typeof r.name !== 'string' || r.name === '') throw bad(path, `${w}.name`, 'expected a name')
      return strip({ name: r.name, computeMsPerSample: num(path, `${w}.compute_ms_per_sample`, r.compute_ms_per_sample), uplinkKbps: num(path, `${w}.uplink_kbps`, r.uplink_kbps, 1), downlinkKbps: num(path, `${w}.downlink_kbps`, r.downlink_kbps, 1), online: spans(path, `${w}.online`, r.online), cycleS: num(path, `${w}.cycle_s`, r.cycle_s, 1) })
    })
    const clients = (o.clients ?? {}) as Record<string, unknown>
    const byClient = new Map(Object.entries(clients).map(([id, name]) => {
      if (typeof name !== 'string') throw bad(path, `.clients.${id}`, 'expected a profile name')
      return [id, name]
    }))
    return { profiles, byClient }
  }
  // FedScale's traces: one entry per device.
  const profiles = Object.entries(o).map(([id, v]): DeviceProfile => {
    const r = (v ?? {}) as Record<string, unknown>
    const w = `.${id}`
    if (r.computation === undefined && r.communication === undefined && r.active === undefined) throw bad(path, w, 'expected computation/communication (device capacity) or active/inactive (behaviour)')
    const kbps = num(path, `${w}.communication`, r.communication, 1)
    const p: DeviceProfile = { name: id, computeMsPerSample: num(path, `${w}.computation`, r.computation), uplinkKbps: kbps, downlinkKbps: kbps }
    if (r.active !== undefined) {
      const active = r.active
      const inactive = r.inactive ?? []
      if (!Array.isArray(active) || !Array.isArray(inactive) || ![...active, ...inactive].every(x => typeof x === 'number' && x >= 0)) throw bad(path, `${w}.active`, 'expected lists of seconds in active and inactive')
      const end = num(path, `${w}.finish_time`, r.finish_time) ?? num(path, `${w}.duration`, r.duration)
      p.online = active.map((from: number, i: number) => [from, (inactive[i] as number | undefined) ?? end ?? Number.MAX_SAFE_INTEGER] as [number, number]).filter(([a, b]) => a < b)
      if (end != null) p.cycleS = end
    }
    return strip(p)
  })
  return { profiles, byClient: new Map() }
}

function parseCsv (path: string, text: string): ProfileTable {
  const lines = text.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  const head = (lines.shift() ?? '').split(',').map(h => h.trim())
  if (!head.includes('name')) throw bad(path, ':1', 'the header must name the columns, name first among them')
  const profiles = lines.map((line, i): DeviceProfile => {
    const cells = line.split(',').map(c => c.trim())
    const get = (k: string): string | undefined => { const j = head.indexOf(k); return j >= 0 ? cells[j] : undefined }
    const w = `:${i + 2}`
    const name = get('name')
    if (name == null || name === '') throw bad(path, w, 'has no name')
    const online = get('online')
    return strip({
      name,
      computeMsPerSample: num(path, `${w} compute_ms_per_sample`, get('compute_ms_per_sample')),
      uplinkKbps: num(path, `${w} uplink_kbps`, get('uplink_kbps'), 1),
      downlinkKbps: num(path, `${w} downlink_kbps`, get('downlink_kbps'), 1),
      online: online == null || online === '' ? undefined : spans(path, `${w} online`, online.split(';').map(s => s.split('-').map(Number))),
      cycleS: num(path, `${w} cycle_s`, get('cycle_s'), 1)
    })
  })
  return { profiles, byClient: new Map() }
}

function strip (p: DeviceProfile): DeviceProfile {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as unknown as DeviceProfile
}
