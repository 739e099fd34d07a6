import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRole, stopRole } from '../../src/cli/child-process.js'

const healthcheck = (file: string): { status: number | null, out: string } => {
  const r = spawnSync(process.execPath, ['docker/healthcheck.mjs'], { env: { ...process.env, BTPS_LOG_HEALTH_FILE: file }, encoding: 'utf8' })
  return { status: r.status, out: r.stderr }
}

test('a running role keeps its health file fresh; the container health check reads it; stopping removes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'btps-health-'))
  const file = join(dir, 'alive')
  const tracker = startRole('tracker', ['tracker', '--port', '0', '--host', '127.0.0.1'], join(dir, 'tracker.log'), { env: { ...process.env, BTPS_LOG_HEALTH_FILE: file } })
  try {
    assert.is(healthcheck(file).status, 1, 'unhealthy before the role is up')
    await tracker.ready
    assert.ok(existsSync(file), 'written once the role is ready')
    const first = statSync(file).mtimeMs
    await new Promise(resolve => setTimeout(resolve, 5600))
    assert.ok(statSync(file).mtimeMs > first, 'touched again within 5 s')
    assert.is(healthcheck(file).status, 0)
    await stopRole(tracker)
    assert.is(existsSync(file), false)
    const after = healthcheck(file)
    assert.is(after.status, 1)
    assert.match(after.out, /missing/)
  } finally {
    await stopRole(tracker)
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
