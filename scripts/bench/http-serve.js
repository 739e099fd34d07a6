#!/usr/bin/env node
// The classic baseline: one file over plain HTTP. `--file F --host H --port P`; prints a ready line, and the
// bytes it sent when stopped (SIGTERM).
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { file: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8000' } } })
const body = readFileSync(values.file)
let sent = 0
const server = createServer((req, res) => {
  if (req.url !== '/model.btps') { res.writeHead(404); res.end(); return }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
  res.end(body, () => { sent += body.length })
})
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(JSON.stringify({ event: 'ready', role: 'http-server', url: `http://${values.host}:${values.port}/model.btps` }) + '\n')
})
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ event: 'stats', bytesSent: sent }) + '\n')
  server.close()
  server.closeAllConnections()
})
