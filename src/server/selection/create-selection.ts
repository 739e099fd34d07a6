import type { Logger } from '../../logger.js'
import type { ClientStats } from './client-stats.js'
import { ContributionSelection } from './contribution.js'
import { OortSelection } from './oort.js'
import { RandomSelection } from './policy.js'
import type { SelectionPolicy } from './policy.js'


/** The policy `job.selection` names, reading the server's per-client history. */
export function createSelection (name: 'random' | 'oort' | 'contribution', stats: ClientStats, log: Logger): SelectionPolicy {
  if (name === 'oort') return new OortSelection(stats, log)
  if (name === 'contribution') return new ContributionSelection(stats)
  return new RandomSelection()
}
