import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { tmpdir } from 'node:os'
import { readTokenFile } from '../../src/cli/admin-client.js'
import { startCluster } from './cluster.js'

const CHROMIUM = ['chromium', 'chromium-browser', 'google-chrome'].flatMap(bin => (process.env.PATH ?? '').split(delimiter).map(dir => join(dir, bin)))
  .find(path => existsSync(path) && spawnSync(path, ['--version'], { stdio: 'ignore' }).status === 0)
const puppeteer = await import('puppeteer-core').then(m => m.default, () => undefined)
const missing = CHROMIUM == null ? 'no chromium on PATH (Debian\'s chromium package; scripts/install-system-deps.sh installs it)' : puppeteer == null ? 'puppeteer-core is not installed (npm ci)' : undefined

if (missing != null) console.log(`SKIP the dashboard test: ${missing}`)
const maybe = missing != null ? test.skip : test

maybe('the live dashboard: opened with the token typed once, it shows rounds as they happen, with no console errors', async () => {
  if (puppeteer == null || CHROMIUM == null) return
  const [cluster, close] = await startCluster({ clients: 3, jobFlags: ['--hidden-units', '64', '--round-timeout', '120'] })
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  const problems: string[] = []
  const requested: string[] = []
  let failed = true
  try {
    const page = await browser.newPage()
    await page.setViewport({ width: 1360, height: 1000 })
    page.on('console', msg => { if (msg.type() === 'error' || msg.type() === 'warn') problems.push(`console ${msg.type()}: ${msg.text()}`) })
    page.on('pageerror', err => { problems.push(`page error: ${String(err)}`) })
    page.on('requestfailed', req => { if (!req.url().endsWith('/api/events')) problems.push(`request failed: ${req.url()}`) })
    page.on('request', req => { requested.push(req.url()) })
    await page.goto(cluster.adminUrl, { waitUntil: 'load' })
    await page.waitForSelector('#token', { visible: true, timeout: 10_000 })
    const token = readTokenFile(cluster.adminTokenFile)
    await page.type('#token', token)
    await page.click('#login button')
    await page.waitForSelector('#main', { visible: true, timeout: 10_000 })
    await page.waitForFunction(() => document.querySelectorAll('#clients tr').length === 4, { timeout: 20_000 })
    // Rounds start after the page is open: it must show them as they happen, without a reload.
    await cluster.admin.startRounds(2)
    await page.waitForFunction(() => document.querySelectorAll('#swarm .held').length === 3, { timeout: 60_000 })
    await page.waitForFunction(() => document.querySelectorAll('#timeline .round.aggregated').length === 2, { timeout: 180_000 })
    await page.waitForFunction(() => document.querySelector('#summary')?.textContent?.includes('2 rounds done') === true, { timeout: 10_000 })
    const shown = await page.evaluate(() => ({
      summary: document.querySelector('#summary')?.textContent ?? '',
      timeline: Array.from(document.querySelectorAll('#timeline .round .label')).map(e => e.textContent ?? ''),
      clients: Array.from(document.querySelectorAll('#clients tr')).slice(1).map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent ?? '')),
      charts: document.querySelectorAll('.uplot').length
    }))
    assert.match(shown.summary, /2 rounds done · 0 queued · 3 of 3 clients online/)
    assert.equal(shown.timeline.map(t => t.replace(/ · [\d.]+ s$/, '')), ['round 1 · aggregated', 'round 2 · aggregated'])
    assert.equal(shown.clients.map(c => c[0]).sort(), ['client-1', 'client-2', 'client-3'])
    assert.ok(shown.clients.every(c => c[2] === 'yes'), 'every client online')
    assert.is(shown.charts, 3, 'accuracy by round, over time, and server traffic')
    assert.ok(requested.every(u => !u.includes(token)), 'the token never appears in a URL')
    const dir = process.env.BTPS_SCREENSHOT_DIR ?? tmpdir()
    mkdirSync(dir, { recursive: true })
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true })
    console.log(`dashboard: ${shown.summary}; screenshot ${join(dir, 'dashboard.png')}`)
    assert.equal(problems, [], 'no console errors or failed requests')
    failed = false
  } finally {
    await browser.close()
    await close(failed)
  }
})

test.run()
