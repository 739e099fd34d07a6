#!/usr/bin/env node
// One client of the HTTP baseline: waits until `--start-at` (epoch ms) so every client starts together, fetches
// `--url`, and prints when it held the whole file, its size and SHA-256.
import { get } from 'node:http'
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { url: { type: 'string' }, 'start-at': { type: 'string' } } })
process.stdout.write(JSON.stringify({ event: 'ready', role: 'http-client' }) + '\n')
const startAt = Number(values['start-at'])
await new Promise(resolve => setTimeout(resolve, Math.max(0, startAt - Date.now())))
const hash = createHash('sha256')
let bytes = 0
await new Promise((resolve, reject) => {
  get(values.url, res => {
    if (res.statusCode !== 200) { reject(new Error(`HTTP ${res.statusCode}`)); return }
    res.on('data', chunk => { bytes += chunk.length; hash.update(chunk) })
    res.on('end', resolve)
    res.on('error', reject)
  }).on('error', reject)
})
process.stdout.write(JSON.stringify({ event: 'done', heldAt: Date.now(), bytes, sha256: hash.digest('hex') }) + '\n')
