/**
 * Job states and what the UI does with them. Pure module (no JupyterLab
 * imports) so that it can be unit-tested with plain `node --test`.
 */

import {
  ACTIVE_STATES,
  JOB_STATES,
  type JobState,
  RETRYABLE_STATES,
  TERMINAL_STATES
} from './generated/job';

// The states are generated from model.State (`python -m jobmagics.typescript`).
export { ACTIVE_STATES, RETRYABLE_STATES, TERMINAL_STATES };
export type { JobState };
export const ALL_STATES: readonly JobState[] = JOB_STATES;

/** The minimal shape of a job the pure helpers need. */
export interface IJobLike {
  id: string;
  user: string;
  state: string;
  held?: boolean;
  cancel_requested?: boolean;
  worker_lost_at?: number | null;
}

export function isTerminal(state: string): boolean {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

export function isActive(state: string): boolean {
  return (ACTIVE_STATES as readonly string[]).includes(state);
}

/** A running job whose worker is gone (died, or its lease ran out). */
export function workerLost(job: IJobLike): boolean {
  return job.state === 'running' && job.worker_lost_at !== null && job.worker_lost_at !== undefined;
}

/**
 * The badge shown for a job: its text, and the CSS modifier class that picks
 * the colour (colours themselves come from JupyterLab theme variables). A
 * running job whose worker is gone keeps its label in the warning colour.
 */
export function badgeFor(job: IJobLike): { label: string; className: string } {
  const known = (ALL_STATES as readonly string[]).includes(job.state);
  const state = known ? job.state : 'unknown';
  let label = state;
  if (state === 'waiting' && job.held) {
    label = 'held';
  } else if (!isTerminal(state) && job.cancel_requested) {
    label = 'cancelling';
  }
  return { label, className: workerLost(job) ? 'jm-state-lost' : `jm-state-${state}` };
}

/** Who may act on a job: its owner, or a queue admin. */
export function mayAct(job: IJobLike, user: string, admin: boolean): boolean {
  return admin || job.user === user;
}

/** The actions the UI offers for a job, given who is looking. */
export interface IActions {
  cancel: boolean;
  retry: boolean;
  hold: boolean;
  release: boolean;
}

export function actionsFor(job: IJobLike, user: string, admin: boolean): IActions {
  const allowed = mayAct(job, user, admin);
  const terminal = isTerminal(job.state);
  const queued = job.state === 'waiting' || job.state === 'pending';
  return {
    cancel: allowed && !terminal && !job.cancel_requested,
    retry: allowed && terminal && job.state !== 'completed',
    hold: allowed && queued && !job.held,
    release: allowed && job.state === 'waiting' && !!job.held
  };
}

/**
 * The filter of the panel as query parameters of `GET /jobmagics/api/jobs`.
 * `filter` is "all", "active", "history" or one state.
 */
export function statesForFilter(filter: string): {
  active: JobState[] | null;
  history: JobState[] | null;
} {
  if (filter === 'active') {
    return { active: [...ACTIVE_STATES], history: null };
  }
  if (filter === 'history') {
    return { active: null, history: [...TERMINAL_STATES] };
  }
  if ((ACTIVE_STATES as readonly string[]).includes(filter)) {
    return { active: [filter as JobState], history: null };
  }
  if ((TERMINAL_STATES as readonly string[]).includes(filter)) {
    return { active: null, history: [filter as JobState] };
  }
  return { active: [...ACTIVE_STATES], history: [...TERMINAL_STATES] };
}

/**
 * Jobs of `user` that were active in `before` and are no longer active in
 * `after` (finished, or dropped out of the list): the candidates for an
 * "your job ended" notification.
 */
export function endedSince(
  before: Iterable<string>,
  afterActive: Iterable<IJobLike>
): string[] {
  const still = new Set<string>();
  for (const job of afterActive) {
    if (isActive(job.state)) {
      still.add(job.id);
    }
  }
  const ended: string[] = [];
  for (const id of before) {
    if (!still.has(id)) {
      ended.push(id);
    }
  }
  return ended;
}
