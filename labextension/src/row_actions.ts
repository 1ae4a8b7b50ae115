/**
 * Which of a job row's buttons show, which are enabled, and the tooltip that
 * says why not. Pure module (no JupyterLab imports), unit-tested with `node --test`.
 *
 * The server's row says what the caller may do now (`may`); a button is
 * enabled exactly when its action is in it. An older server without `may`
 * is read the old way (owner or queue admin, and the state).
 */
import { actionsFor, isTerminal } from './states';

/** The row actions the server may list in a job's `may`. */
export type RowAction = 'cancel' | 'retry' | 'hold' | 'release' | 'move' | 'edit';

export const ROW_ACTIONS: readonly RowAction[] = [
  'cancel',
  'retry',
  'hold',
  'release',
  'move',
  'edit'
];

/** The fields of a row the decision needs. */
export interface IActionJob {
  id: string;
  user: string;
  state: string;
  held?: boolean;
  cancel_requested?: boolean;
  /** What the caller may do now (absent from an older server). */
  may?: readonly string[];
}

export interface IRowButton {
  /** The button belongs on this row (a finished job has no cancel, a running one no hold). */
  shown: boolean;
  enabled: boolean;
  /** What a click does, or why it is disabled. */
  title: string;
}

const VERBS: Record<RowAction, string> = {
  cancel: 'cancel',
  retry: 'retry',
  hold: 'hold',
  release: 'release',
  move: 'move',
  edit: 'change'
};

/** Where each button belongs, by the job's state. */
function shownFor(job: IActionJob, action: RowAction): boolean {
  const queued = job.state === 'waiting' || job.state === 'pending';
  switch (action) {
    case 'cancel':
      return !isTerminal(job.state);
    case 'retry':
      return isTerminal(job.state) && job.state !== 'completed';
    case 'hold':
      return queued && !job.held;
    case 'release':
      return job.state === 'waiting' && !!job.held;
    default:
      return queued;
  }
}

/** What the caller may do, from the server's `may` or, without it, derived as before. */
export function allowedActions(job: IActionJob, user: string, admin: boolean): Set<string> {
  if (job.may) {
    return new Set(job.may);
  }
  const old = actionsFor(job, user, admin);
  const allowed = new Set<string>();
  for (const action of ['cancel', 'retry', 'hold', 'release'] as const) {
    if (old[action]) {
      allowed.add(action);
    }
  }
  const owner = admin || job.user === user;
  if (owner && (job.state === 'waiting' || job.state === 'pending')) {
    allowed.add('move');
    allowed.add('edit');
  }
  return allowed;
}

/** Why `action` is not possible on `job` for `user`: one sentence for a tooltip. */
export function whyNot(job: IActionJob, action: RowAction, user: string, admin: boolean): string {
  const verb = VERBS[action];
  const it = action === 'edit' ? 'its settings' : 'it';
  if (!admin && job.user !== user) {
    return `Only ${job.user} or a queue admin may ${verb} ${it}`;
  }
  if (action === 'cancel' && job.cancel_requested) {
    return 'Cancellation requested';
  }
  if (action === 'release' && !job.held) {
    return `${job.id} is not held`;
  }
  if (action === 'hold' && job.held) {
    return `${job.id} is already held`;
  }
  if (action === 'retry' && !isTerminal(job.state)) {
    return `${job.state} jobs cannot be retried until they end`;
  }
  return `${job.state} jobs cannot be ${pastTense(action)}`;
}

function pastTense(action: RowAction): string {
  return {
    cancel: 'cancelled',
    retry: 'retried',
    hold: 'held',
    release: 'released',
    move: 'moved',
    edit: 'changed'
  }[action];
}

const TITLES: Record<RowAction, (id: string) => string> = {
  cancel: id => `Cancel ${id}`,
  retry: id => `Retry ${id}`,
  hold: id => `Hold ${id}: it starts only once released`,
  release: id => `Release ${id}: it may start`,
  move: id => `Move ${id} to the top: next to start among the jobs of its priority`,
  edit: id => `Change the settings of ${id}`
};

/** Every row button of `job` as `user` (a queue admin or not) sees it. */
export function rowButtons(
  job: IActionJob,
  user: string,
  admin: boolean
): Record<RowAction, IRowButton> {
  const allowed = allowedActions(job, user, admin);
  const buttons = {} as Record<RowAction, IRowButton>;
  for (const action of ROW_ACTIONS) {
    const enabled = allowed.has(action);
    buttons[action] = {
      shown: shownFor(job, action),
      enabled,
      title: enabled ? TITLES[action](job.id) : whyNot(job, action, user, admin)
    };
  }
  return buttons;
}
