// The live dashboard: the admin token is asked for once and kept in this tab (sessionStorage); every request
// carries it in a header, never in a URL. Status and round events arrive as server-sent events over fetch.
import { readEvents } from './event-stream.js'

const $ = (id) => document.getElementById(id)
const TOKEN_KEY = 'bt-ps admin token'
let token = sessionStorage.getItem(TOKEN_KEY)
const charts = {}
// Round axes tick at whole rounds.
const ROUND_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]

async function api (path, init = {}) {
  const res = await fetch(path, { ...init, headers: { authorization: `Bearer ${token}` } })
  if (res.status === 401) throw new Error('the server refused this token')
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return res
}

function showLogin (message) {
  $('main').hidden = true
  $('login').hidden = false
  $('login-error').textContent = message ?? ''
  $('token').focus()
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault()
  token = $('token').value.trim()
  $('token').value = ''
  start()
})

async function start () {
  if (token == null || token === '') { showLogin(); return }
  try {
    const status = await (await api('/api/status')).json()
    sessionStorage.setItem(TOKEN_KEY, token)
    $('login').hidden = true
    $('main').hidden = false
    render(status)
    follow()
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY)
    showLogin(err.message)
  }
}

/** Reads GET /api/events; on a break, tries again after 2 s. */
async function follow () {
  for (;;) {
    try {
      const res = await api('/api/events')
      $('conn').textContent = 'live'
      $('conn').className = 'conn live'
      await readEvents(res.body, (type, data) => { if (type === 'status') render(JSON.parse(data)) })
    } catch (err) {
      if (/refused this token/.test(err.message)) { showLogin(err.message); return }
    }
    $('conn').textContent = 'reconnecting…'
    $('conn').className = 'conn'
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
}

const fmt = (v, digits = 3) => v == null ? '–' : Number(v).toFixed(digits)
const mb = (b) => b == null ? '–' : (b / 1e6).toFixed(1)

function chart (id, title, series, scales, axes, data, time) {
  const el = $(id)
  const opts = { title, width: Math.max(360, el.clientWidth || 560), height: 240, scales: { x: { time }, ...scales }, series: [{}, ...series], axes, legend: { live: false } }
  if (charts[id] == null) charts[id] = new uPlot(opts, data, el)
  else charts[id].setData(data)
}

function render (s) {
  $('job').textContent = `${s.jobId}: model ${s.model}, transfer ${s.transfer}`
  const current = s.current
  $('summary').textContent = `server ${s.state} · ${s.round} rounds done · ${s.queued} queued · ${s.clients.filter(c => c.online).length} of ${s.clients.length} clients online` +
    (current != null ? ` · round ${current.round} open: ${current.accepted.length} of ${current.selected.length} updates in` : '') +
    (s.lastStop != null ? ` · stopped at ${new Date(s.lastStop.at).toLocaleTimeString()}` : '')
  const done = s.results.filter(r => r.status === 'aggregated' && r.testAcc1 != null)
  const accLoss = [{ label: 'accuracy', stroke: '#2563eb', scale: 'acc', points: { show: true } }, { label: 'loss', stroke: '#dc2626', scale: 'loss', points: { show: true } }]
  const accAxes = [{}, { scale: 'acc', label: 'accuracy' }, { scale: 'loss', side: 1, label: 'loss', grid: { show: false } }]
  const scales = { acc: { range: [0, 1] }, loss: {} }
  chart('chart-round', '', accLoss, scales, [{ label: 'round', incrs: ROUND_STEPS }, ...accAxes.slice(1)], [done.map(r => r.round), done.map(r => r.testAcc1), done.map(r => r.testLoss)], false)
  chart('chart-time', '', accLoss, scales, [{}, ...accAxes.slice(1)], [done.map(r => r.finishedAt / 1000), done.map(r => r.testAcc1), done.map(r => r.testLoss)], true)
  const rounds = s.results.filter(r => r.modelBytes > 0)
  chart('chart-traffic', '', [
    { label: 'egress / F', stroke: '#2563eb', points: { show: true } },
    { label: 'ingress / F', stroke: '#059669', points: { show: true } },
    { label: 'N (a star sends N·F)', stroke: '#9ca3af', dash: [6, 4] }
  ], {}, [{ label: 'round', incrs: ROUND_STEPS }, { label: 'models' }], [rounds.map(r => r.round), rounds.map(r => r.serverEgressBytes / r.modelBytes), rounds.map(r => r.serverIngressBytes / r.modelBytes), rounds.map(r => r.selected.length)], false)
  renderTimeline(s.results.slice(-15))
  renderSwarm(s)
  renderClients(s)
}

function renderTimeline (results) {
  const longest = Math.max(1, ...results.map(r => r.roundS))
  const rows = results.map(r => {
    const parts = [['distribution', r.distributionS], ['training', r.trainingS], ['upload', r.uploadS ?? 0], ['aggregation', r.aggregationS]]
    const spans = parts.map(([k, v]) => `<span class="${k}" style="width:${(Math.max(0, v) / longest * 400).toFixed(1)}px" title="${k} ${fmt(v, 2)} s"></span>`).join('')
    return `<div class="round ${r.status}"><span class="label">round ${r.round} · ${r.status} · ${fmt(r.roundS, 1)} s</span><span class="bar">${spans}</span></div>`
  })
  $('timeline').innerHTML = rows.length > 0 ? rows.join('') : '<p class="muted">no round finished yet</p>'
}

function renderSwarm (s) {
  const current = s.current
  if (current == null) { $('swarm').innerHTML = '<p class="muted">no round open</p>'; return }
  $('swarm').innerHTML = current.selected.map(id => {
    const c = s.clients.find(x => x.clientId === id)
    const held = c?.round === current.round ? c.held ?? 0 : 0
    return `<div class="held"><span class="label">${esc(id)} · ${esc(c?.state ?? '?')}</span><span class="track"><span class="fill" style="display:block;width:${(held * 100).toFixed(1)}%"></span></span><span class="pct">${(held * 100).toFixed(0)}%</span></div>`
  }).join('')
}

function renderClients (s) {
  const selected = new Set(s.current?.selected ?? [])
  const head = '<tr><th>client</th><th>partition</th><th>online</th><th>selected</th><th>state</th><th>held</th><th>uploaded to peers (MB)</th><th>backend</th><th>last seen (s)</th></tr>'
  const rows = s.clients.map(c => {
    const state = c.excluded ? `excluded: ${c.rejected} invalid updates` : c.state
    return `<tr class="${c.excluded ? 'excluded' : c.online ? '' : 'offline'}"><td>${esc(c.clientId)}</td><td class="num">${c.partition}</td><td>${c.online ? 'yes' : 'no'}</td><td>${selected.has(c.clientId) ? 'yes' : ''}</td><td>${esc(state)}</td><td class="num">${c.held != null ? (c.held * 100).toFixed(0) + '%' : '–'}</td><td class="num">${mb(c.uploadedBytes)}</td><td>${esc(c.backend)}</td><td class="num">${c.lastSeenS}</td></tr>`
  })
  $('clients').innerHTML = head + rows.join('')
}

function esc (v) {
  return String(v).replace(/[&<>"]/g, ch => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch])
}

start()
