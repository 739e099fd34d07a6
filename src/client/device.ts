import type { Logger } from '../logger.js'
import { RateLimiter } from '../net/rate-limiter.js'
import { isOnline } from '../profiles/device-profiles.js'
import type { DeviceProfile } from '../profiles/device-profiles.js'

/**
 * A client acting as the device its profile describes: uplink and downlink caps (the uplink shared by the swarm and
 * the update path), training padded to the profile's speed, and going offline and online on its schedule (checked
 * every second from the client's start).
 */
export class Device {
  readonly profile: DeviceProfile
  readonly uplink?: RateLimiter
  readonly downlinkBytesPerS?: number
  online = true
  private readonly startedAt = performance.now()
  private timer?: NodeJS.Timeout

  constructor (profile: DeviceProfile, private readonly log: Logger, private readonly onChange: (online: boolean) => void) {
    this.profile = profile
    if (profile.uplinkKbps != null) this.uplink = new RateLimiter(profile.uplinkKbps * 1000 / 8)
    if (profile.downlinkKbps != null) this.downlinkBytesPerS = profile.downlinkKbps * 1000 / 8
  }

  start (): void {
    this.log.info('device profile', { profile: this.profile.name, computeMsPerSample: this.profile.computeMsPerSample, uplinkKbps: this.profile.uplinkKbps, downlinkKbps: this.profile.downlinkKbps, online: this.profile.online?.map(([a, b]) => `${a}-${b}`).join(';'), cycleS: this.profile.cycleS })
    this.check()
    this.timer = setInterval(() => { this.check() }, 1000)
    this.timer.unref()
  }

  stop (): void { clearInterval(this.timer) }

  /** Seconds `samples` training steps take on this device (0: no compute profile). */
  computeS (samples: number): number {
    return (this.profile.computeMsPerSample ?? 0) * samples / 1000
  }

  private check (): void {
    const now = isOnline(this.profile, (performance.now() - this.startedAt) / 1000)
    if (now === this.online) return
    this.online = now
    this.log.info(now ? 'device online (profile schedule)' : 'device offline (profile schedule)', { profile: this.profile.name })
    this.onChange(now)
  }
}
