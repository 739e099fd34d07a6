// Container health check: healthy while the role's health file (BTPS_LOG_HEALTH_FILE) is fresh. Roles touch it
// every few seconds once they are serving, so a hung event loop or a role that never came up reads unhealthy.
import { statSync } from 'node:fs'

const file = process.env.BTPS_LOG_HEALTH_FILE
const maxAgeS = Number(process.env.BTPS_HEALTH_MAX_AGE_S ?? 30)
const unhealthy = (why) => { process.stderr.write(why + '\n'); process.exit(1) }
if (file == null || file === '') unhealthy('BTPS_LOG_HEALTH_FILE is not set')
let ageS
try {
  ageS = (Date.now() - statSync(file).mtimeMs) / 1000
} catch {
  unhealthy(`${file} is missing: the role has not started serving`)
}
if (ageS > maxAgeS) unhealthy(`${file} is ${ageS.toFixed(0)} s old`)
