/**
 * The live state of the queue as the browser sees it.
 *
 * One `JobsModel` per JupyterLab page. It refreshes by itself: change-driven
 * through the long-poll route `changes` (the server answers as soon as the
 * queue's data version moves), with a plain poll about once a second as a
 * fallback, backing off while the browser tab is hidden. Every request is
 * asynchronous; the UI never waits on it.
 */
import { type ISignal, Signal } from '@lumino/signaling';

import {
  APIError,
  type IArrayRow,
  type IJobRow,
  type IQueuePage,
  type IWhoAmI,
  listArrays,
  listJobs,
  listQueue,
  waitForChange,
  whoami
} from './api';
import { moreByState, moreText, nextPollDelay } from './format';
import { ACTIVE_STATES, isTerminal, TERMINAL_STATES } from './states';

/** What the panel shows when it cannot show jobs. */
export interface IModelProblem {
  kind: 'no-extension' | 'queue' | 'busy' | 'network' | 'other';
  message: string;
}

export interface IFilter {
  /** "all", "active", "history" or one state. */
  state: string;
  mine: boolean;
}

const HISTORY_LIMIT = 50;
/** Finished arrays shown above the recent history (one row each, retry at hand). */
const FINISHED_ARRAYS = 10;
/** The first page of the queue: a sidebar shows this many, then "… and N more". */
const ACTIVE_LIMIT = 100;
/** Minimum spacing of two refreshes, so a burst of progress updates stays cheap. */
const MIN_REFRESH_MS = 100;
/** Long-poll duration asked of the server (seconds). */
const LONG_POLL_S = 25;
/**
 * ... while a job runs: its worker may die, which commits nothing. The server
 * answers a long poll when a worker dies during it; this bounds the rest (a
 * death between a refresh and the next poll).
 */
const RUNNING_LONG_POLL_S = 5;

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

export class JobsModel {
  constructor() {
    this._onVisibility = () => {
      if (!document.hidden) {
        this._idleRounds = 0;
        this._wake();
      }
    };
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** Emitted after every refresh (successful or not). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted with the queue's new data version whenever it moves. */
  get versionChanged(): ISignal<this, number> {
    return this._versionChanged;
  }

  /** Active arrays in the current filter, newest first: one row each. */
  get arrays(): IArrayRow[] {
    return this._arrays;
  }

  /** Recently finished arrays in the current filter, newest first. */
  get finishedArrays(): IArrayRow[] {
    return this._finishedArrays;
  }

  /** Active jobs (waiting/pending/running) in the current filter, queue order. */
  get active(): IJobRow[] {
    return this._active;
  }

  /** How many active jobs the current filter matches (shown or not). */
  get activeTotal(): number {
    return this._activeTotal;
  }

  /** "… and 179,950 more pending" below the first page of the queue, or "". */
  get activeMore(): string {
    return this._activeMore;
  }

  /** "… and 1,234 more finished" below the recent history, or "". */
  get historyMore(): string {
    return this._historyMore;
  }

  /** Recent terminal jobs in the current filter, newest first. */
  get history(): IJobRow[] {
    return this._history;
  }

  /** The first page of everyone's active jobs (unfiltered), for notifications. */
  get allActive(): IJobRow[] {
    return this._allActive;
  }

  /** Everyone's active arrays (unfiltered, all of them), for notifications. */
  get allArrays(): IArrayRow[] {
    return this._allArrays;
  }

  /** True when `allActive` holds every active job (the queue fits in one page). */
  get allActiveComplete(): boolean {
    return this._allActiveComplete;
  }

  get me(): IWhoAmI | null {
    return this._me;
  }

  get problem(): IModelProblem | null {
    return this._problem;
  }

  get filter(): IFilter {
    return this._filter;
  }

  set filter(value: IFilter) {
    this._filter = { ...value };
    this._wake();
  }

  /** Milliseconds the last refresh took (for the curious and for benchmarks). */
  get lastRefreshMs(): number {
    return this._lastRefreshMs;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start the refresh loop (idempotent). */
  start(): void {
    if (this._started) {
      return;
    }
    this._started = true;
    void this._loop();
  }

  /** Refresh now (e.g. after the user acted on a job). */
  refresh(): void {
    this._wake();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._wake();
    Signal.clearData(this);
  }

  /** The main loop: refresh, then wait for a change (or a timer), repeat. */
  private async _loop(): Promise<void> {
    while (!this._disposed) {
      const t0 = Date.now();
      const ok = await this._refresh();
      this._lastRefreshMs = Date.now() - t0;
      this._changed.emit();
      if (this._disposed) {
        break;
      }
      await this._waitForNext(ok);
      const spent = Date.now() - t0;
      if (spent < MIN_REFRESH_MS) {
        await sleep(MIN_REFRESH_MS - spent);
      }
    }
  }

  /** Fetch identity, the active list and the history. True on success. */
  private async _refresh(): Promise<boolean> {
    try {
      if (!this._me) {
        this._me = await whoami();
      }
      const { state, mine } = this._filter;
      const wantActive =
        state === 'all' || state === 'active' || (ACTIVE_STATES as readonly string[]).includes(state);
      const wantHistory =
        state === 'all' ||
        state === 'history' ||
        (TERMINAL_STATES as readonly string[]).includes(state);
      const single = state !== 'all' && state !== 'active' && state !== 'history';
      const everyone = listQueue({ limit: ACTIVE_LIMIT });
      // An array is one row: its elements are never listed one by one (a 10,000-element
      // array would bury the history), here nor under a one-state filter.
      const [all, shown, history, finished] = await Promise.all([
        everyone,
        wantActive ? this._fetchActive(state, mine, single, everyone) : Promise.resolve(null),
        wantHistory
          ? listJobs({
              state: single ? [state] : [...TERMINAL_STATES],
              mine,
              limit: HISTORY_LIMIT,
              elements: false
            })
          : Promise.resolve(null),
        wantHistory ? this._fetchFinishedArrays(mine, single ? state : null) : Promise.resolve([])
      ]);
      this._allActive = all.jobs.slice();
      this._allArrays = (all.arrays ?? []).slice();
      this._allActiveComplete = all.more === 0;
      const active = shown ?? { jobs: [], total: 0, more: {}, arrays: [] };
      // The lists are fetched side by side: a job that ended in between can be in
      // both. Its terminal state is the newer one.
      const ended = new Set((history ? history.jobs : []).map(j => j.id));
      this._active = active.jobs.filter(j => !ended.has(j.id));
      const endedArrays = new Set(finished.map(a => a.id));
      this._arrays = active.arrays.filter(a => !endedArrays.has(a.id));
      this._finishedArrays = finished;
      this._activeTotal = active.total;
      this._activeMore = moreText(active.more);
      this._history = history ? history.jobs : [];
      this._historyMore = history
        ? moreText({ [single ? state : 'finished']: history.total - history.jobs.length })
        : '';
      this._noteVersion(all.version);
      this._problem = null;
      return true;
    } catch (error) {
      this._problem = describeProblem(error);
      if (this._problem.kind === 'no-extension') {
        this._me = null;
      }
      return false;
    }
  }

  /**
   * The first page of active jobs the filter shows, in start order, with how
   * many it leaves out: the queue (everyone's or mine), or one active state.
   */
  private async _fetchActive(
    state: string,
    mine: boolean,
    single: boolean,
    everyone: Promise<IQueuePage>
  ): Promise<{
    jobs: IJobRow[];
    total: number;
    more: Record<string, number>;
    arrays: IArrayRow[];
  }> {
    if (single) {
      // One state: its newest jobs, shown oldest first, after the arrays with elements in it.
      const [list, page] = await Promise.all([
        listJobs({ state: [state], mine, limit: ACTIVE_LIMIT, elements: false }),
        everyone
      ]);
      const jobs = list.jobs.slice().reverse();
      const me = this._me ? this._me.user : '';
      const arrays = (page.arrays ?? []).filter(
        a => (a.counts[state] ?? 0) > 0 && (!mine || a.user === me)
      );
      return { jobs, total: list.total, more: { [state]: list.total - jobs.length }, arrays };
    }
    const page = mine ? await listQueue({ mine, limit: ACTIVE_LIMIT }) : await everyone;
    return {
      jobs: page.jobs,
      total: page.total,
      more: moreByState(page.counts, page.offset, page.jobs.length),
      arrays: page.arrays ?? []
    };
  }

  /**
   * The arrays (mine or everyone's) whose every element ended, newest first; or,
   * given one finished state, the newest arrays with elements in it.
   */
  private async _fetchFinishedArrays(mine: boolean, state: string | null): Promise<IArrayRow[]> {
    try {
      const list = await listArrays({ active: false, mine, limit: FINISHED_ARRAYS * 2 });
      const shown = state
        ? (a: IArrayRow) => (a.counts[state] ?? 0) > 0
        : (a: IArrayRow) => isTerminal(a.state);
      return list.arrays.filter(shown).slice(0, FINISHED_ARRAYS);
    } catch (error) {
      if (error instanceof APIError && error.status === 404 && error.type !== '') {
        return []; // (an older server without the route answers a JSON 404)
      }
      throw error;
    }
  }

  private _noteVersion(version: number): void {
    if (version !== this._version) {
      this._version = version;
      this._versionChanged.emit(version);
    }
  }

  /**
   * Wait until the next refresh is due: a change reported by the long poll,
   * a wake-up (filter changed, tab shown, user action), or the poll timer.
   */
  private async _waitForNext(lastOk: boolean): Promise<void> {
    const woken = new Promise<void>(resolve => {
      this._wakeUp = resolve;
    });
    const hidden = document.hidden;
    if (!lastOk || hidden || !this._longPollWorks) {
      this._idleRounds = hidden ? this._idleRounds + 1 : 0;
      const delay = lastOk
        ? nextPollDelay(hidden, this._idleRounds)
        : nextPollDelay(hidden, this._idleRounds, 2000);
      await Promise.race([sleep(delay), woken]);
      return;
    }
    this._idleRounds = 0;
    const abort = new AbortController();
    const running =
      this._allActive.some(j => j.state === 'running') ||
      this._arrays.some(a => a.state === 'running');
    const timeout = running ? RUNNING_LONG_POLL_S : LONG_POLL_S;
    const changed = waitForChange(this._version, timeout, abort.signal).then(
      reply => {
        this._noteVersion(reply.version);
      },
      async (error: unknown) => {
        if (abort.signal.aborted) {
          return;
        }
        // An old server without the route, or a proxy cutting long requests:
        // fall back to polling about once a second.
        if (error instanceof APIError && (error.status === 404 || error.status === 400)) {
          this._longPollWorks = false;
        }
        await sleep(1000);
      }
    );
    await Promise.race([changed, woken]);
    // Never leave a long poll hanging: it would hold one of the browser's
    // few connections to the server.
    abort.abort();
  }

  private _wake(): void {
    const wake = this._wakeUp;
    this._wakeUp = null;
    if (wake) {
      wake();
    }
  }

  private _arrays: IArrayRow[] = [];
  private _finishedArrays: IArrayRow[] = [];
  private _active: IJobRow[] = [];
  private _activeTotal = 0;
  private _activeMore = '';
  private _historyMore = '';
  private _allActive: IJobRow[] = [];
  private _allArrays: IArrayRow[] = [];
  private _allActiveComplete = true;
  private _history: IJobRow[] = [];
  private _me: IWhoAmI | null = null;
  private _problem: IModelProblem | null = null;
  private _filter: IFilter = { state: 'all', mine: false };
  private _version = -1;
  private _started = false;
  private _disposed = false;
  private _longPollWorks = true;
  private _idleRounds = 0;
  private _lastRefreshMs = 0;
  private _wakeUp: (() => void) | null = null;
  private _onVisibility: () => void;
  private _changed = new Signal<this, void>(this);
  private _versionChanged = new Signal<this, number>(this);
}

/** Turn a failed request into the message the panel shows. */
export function describeProblem(error: unknown): IModelProblem {
  if (error instanceof APIError) {
    if (error.missingExtension) {
      return {
        kind: 'no-extension',
        message:
          'The jobmagics server extension is not running on this Jupyter server. ' +
          'Install jobmagics in the server\'s environment and check ' +
          '"jupyter server extension list", then restart the server.'
      };
    }
    if (error.busy) {
      return {
        kind: 'busy',
        message: 'The job queue is busy (another process holds its write lock). Retrying…'
      };
    }
    if (error.queueUnavailable) {
      return { kind: 'queue', message: `The job queue cannot be read: ${error.message}` };
    }
    if (error.network) {
      return { kind: 'network', message: 'The Jupyter server cannot be reached. Retrying…' };
    }
    return { kind: 'other', message: `${error.message} (HTTP ${error.status})` };
  }
  return { kind: 'other', message: String(error) };
}
