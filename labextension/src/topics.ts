/** Which parts of the sidebar a change of the queue moved (pure: tested in node). */
import { CHANGE_TOPICS, type ChangeTopic } from './generated/job';

/** Each topic's count, as a long poll's answer or a page carries them. */
export type ChangeCounts = Readonly<Record<ChangeTopic, number>>;

/** The topics that moved from `before` to `now`; null when either is not known. */
export function movedTopics(
  before: ChangeCounts | null,
  now: ChangeCounts | null
): Set<ChangeTopic> | null {
  return before && now ? new Set(CHANGE_TOPICS.filter(t => now[t] !== before[t])) : null;
}
