/**
 * The live state of the queue as the browser sees it.
 *
 * One `JobsModel` per JupyterLab page. It refreshes by itself, pushed by the
 * long-poll route `changes` (the server answers as soon as the queue's data
 * version moves); a plain poll about once a second only while the long poll
 * fails, backing off while the browser tab is hidden. Every request is
 * asynchronous; the UI never waits on it.
 *
 * A refresh reads what the sidebar shows, never the whole queue: the rows of
 * the active list in view (`setWindow`: the list is virtualised, a page of a
 * 1,000 active jobs at a time at most), the recent history only while it is
 * in view, the dashboard, and the first page of everyone's queue that the
 * notifications watch (one request with the rows in view when those are the
 * top of the queue).
 */
import { type ISignal, Signal } from '@lumino/signaling';

import {
  APIError,
  type ChangeCounts,
  getDashboard,
  type IArrayRow,
  type IJobRow,
  type IQueuePage,
  type IWhoAmI,
  listArrays,
  MAX_PAGE,
  listJobs,
  listQueue,
  waitForChange,
  whoami
} from './api';
import type { IDashboard } from './dashboard_text';
import { moreText, nextPollDelay } from './format';
import { covers, fetchSpan, type IRange } from './virtual_list';
import { ACTIVE_STATES, isTerminal, TERMINAL_STATES } from './states';
import { CHANGE_TOPICS, type ChangeTopic } from './generated/job';

/** What the panel shows when it cannot show jobs. */
export interface IModelProblem {
  kind: 'no-extension' | 'queue' | 'busy' | 'network' | 'other';
  message: string;
}

/** The queue moved: its new version and which parts of the sidebar moved with it. */
export interface IQueueChange {
  version: number;
  /** The topics that moved since the version before; null: not known (read everything). */
  moved: ReadonlySet<ChangeTopic> | null;
}

export interface IFilter {
  /** "all", "active", "history" or one state. */
  state: string;
  mine: boolean;
}

const HISTORY_LIMIT = 50;
/** Finished arrays shown above the recent history (one row each, retry at hand). */
const FINISHED_ARRAYS = 10;
/** The first page of a one-state filter. */
const ACTIVE_LIMIT = 100;
/**
 * The first page of everyone's queue, which the notifications watch: read on every change,
 * so kept to the rows a sidebar shows at first (a listed job is about 1 KB of JSON).
 */
const EVERYONE_LIMIT = 50;
/** The active list is fetched in pages of this many rows around the rows in view. */
const WINDOW_PAGE = 50;
/** Minimum spacing of two refreshes, so a burst of progress updates stays cheap. */
const MIN_REFRESH_MS = 40;
/** Long-poll duration asked of the server (seconds). */
const LONG_POLL_S = 25;
/**
 * ... while a job runs: its worker may die, which commits nothing. The server
 * answers a long poll when a worker dies during it; this bounds the rest (a
 * death between a refresh and the next poll).
 */
const RUNNING_LONG_POLL_S = 5;

/** The active rows a refresh fetched, and where they are in the list. */
interface IActivePage {
  jobs: IJobRow[];
  /** Active jobs the filter matches. */
  total: number;
  /** Rows of the list (a one-state filter lists its first page only). */
  count: number;
  offset: number;
  /** The rows asked for (fewer come at the end of the list). */
  limit: number;
  /** "… and 1,234 more running" under a one-state filter's page. */
  more: string;
  arrays: IArrayRow[];
}

/**
 * The new rows, each one that did not change replaced by the object shown
 * before: the list redraws a row only when its object changed.
 */
export function keepSame<T extends { id: string }>(before: T[], after: T[]): T[] {
  const old = new Map(before.map(j => [j.id, j]));
  return after.map(j => {
    const was = old.get(j.id);
    return was !== undefined && JSON.stringify(was) === JSON.stringify(j) ? was : j;
  });
}

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

  /** Emitted when the rows in view arrived, before the rest of a refresh. */
  get shownChanged(): ISignal<this, void> {
    return this._shownChanged;
  }

  /** Emitted whenever the queue's version moves, with the topics that moved. */
  get versionChanged(): ISignal<this, IQueueChange> {
    return this._versionChanged;
  }

  /** Each topic's count as last read (null: not known, e.g. from an older server). */
  get topics(): ChangeCounts | null {
    return this._topics;
  }

  /** Active arrays in the current filter, newest first: one row each. */
  get arrays(): IArrayRow[] {
    return this._arrays;
  }

  /** Recently finished arrays in the current filter, newest first. */
  get finishedArrays(): IArrayRow[] {
    return this._finishedArrays;
  }

  /** The active jobs fetched (those around the rows in view), queue order, from `activeStart`. */
  get active(): IJobRow[] {
    return this._active;
  }

  /** The place in the active list of `active[0]`. */
  get activeStart(): number {
    return this._activeStart;
  }

  /** The active job at place `index` of the list, if fetched. */
  activeAt(index: number): IJobRow | undefined {
    return this._active[index - this._activeStart];
  }

  /** How many active jobs the current filter matches (shown or not). */
  get activeTotal(): number {
    return this._activeTotal;
  }

  /** How many rows the active list has (every active job; a one-state filter's first page). */
  get activeCount(): number {
    return this._activeCount;
  }

  /** "… and 1,234 more running" below a one-state filter's first page, or "". */
  get activeMore(): string {
    return this._activeMore;
  }

  /**
   * The rows of the active list in view: what a refresh fetches. Rows out of
   * what was fetched are fetched now, without waiting for a change.
   */
  setWindow(range: IRange): void {
    if (range.end <= range.start) {
      return; // hidden: keep what was shown
    }
    this._window = range;
    if (!covers(this._held, range)) {
      void this._loadWindow();
    }
  }

  /** Whether the recent history is in view: it is read again on a change only then. */
  set historyInView(value: boolean) {
    const was = this._historyInView;
    this._historyInView = value;
    if (value && !was && this._historyStale) {
      this._wake();
    }
  }

  /** The lab's dashboard as last read (null: not read, or an older server without it). */
  get dashboard(): IDashboard | null {
    return this._dashboard;
  }

  /** When the dashboard was read (ms, `Date.now()`): heartbeat ages count on from there. */
  get dashboardAt(): number {
    return this._dashboardAt;
  }

  /** A dashboard answered by an action (pause, resume): shown until the next refresh. */
  setDashboard(dashboard: IDashboard): void {
    this._dashboard = dashboard;
    this._dashboardAt = Date.now();
    this._changed.emit();
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

  /** Fetch identity, the active rows in view, the history in view, the dashboard. */
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
      const filterKey = `${state}/${mine}`;
      const span = fetchSpan(this._window, WINDOW_PAGE, MAX_PAGE);
      // The rows in view at the top of everyone's queue: the notifications' page serves both.
      const shared = !mine && !single && span.offset === 0 && span.limit <= EVERYONE_LIMIT;
      const everyone = listQueue({ limit: EVERYONE_LIMIT });
      // An array is one row: its elements are never listed one by one (a 10,000-element
      // array would bury the history), here nor under a one-state filter. Asked once the rows
      // in view came: on a busy server they would otherwise compete with them.
      const readRest = (readHistory: boolean) => Promise.all([
        readHistory
          ? listJobs({
              state: single ? [state] : [...TERMINAL_STATES],
              mine,
              limit: HISTORY_LIMIT,
              elements: false
            })
          : Promise.resolve(null),
        readHistory ? this._fetchFinishedArrays(mine, single ? state : null) : Promise.resolve(null),
        this._fetchDashboard()
      ]);
      const [all, shown] = await Promise.all([
        everyone,
        wantActive
          ? this._fetchActive(state, mine, single, shared ? everyone : null, span)
          : Promise.resolve(null)
      ]);
      // The rows in view show as soon as they come; the history and dashboard follow.
      this._takeActive(shown, [], []);
      this._shownChanged.emit();
      // The history reads again only when a job ended since it was read (the `ended` topic):
      // a hold, a release or a job starting leaves it as it is.
      const ended = all.topics?.ended ?? null;
      const historyFresh =
        this._historyFor === filterKey && ended !== null && ended === this._historyEnded;
      const readHistory =
        wantHistory && !historyFresh && (this._historyInView || this._historyFor !== filterKey);
      const [history, finished] = await readRest(readHistory);
      this._allActive = all.jobs.slice();
      this._allArrays = (all.arrays ?? []).slice();
      this._allActiveComplete = all.more === 0;
      if (readHistory && history && finished) {
        this._history = keepSame(this._history, history.jobs);
        this._finishedArrays = finished;
        this._historyMore = moreText({
          [single ? state : 'finished']: history.total - history.jobs.length
        });
        this._historyFor = filterKey;
        this._historyEnded = ended;
        this._historyStale = false;
      } else if (!wantHistory) {
        this._history = [];
        this._finishedArrays = [];
        this._historyMore = '';
        this._historyFor = '';
      } else if (!historyFresh) {
        this._historyStale = true;
      }
      const endedJobs = readHistory && history ? history.jobs : [];
      this._takeActive(shown, endedJobs, readHistory ? this._finishedArrays : []);
      this._noteVersion(all.version, all.topics);
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
   * Keep the active rows fetched. The lists are fetched side by side: a job
   * that ended in between can be in both; its terminal state is the newer one.
   */
  private _takeActive(shown: IActivePage | null, ended: IJobRow[], endedArrays: IArrayRow[]): void {
    const active = shown ?? { jobs: [], total: 0, count: 0, offset: 0, limit: 0, more: '', arrays: [] };
    const endedIds = new Set(ended.map(j => j.id));
    const jobs = active.jobs.filter(j => !endedIds.has(j.id));
    const gone = active.jobs.length - jobs.length;
    this._active = keepSame(this._active, jobs);
    this._activeStart = active.offset;
    this._held = { start: active.offset, end: active.offset + active.limit - gone };
    this._activeTotal = active.total - gone;
    this._activeCount = active.count - gone;
    this._activeMore = active.more;
    const endedArrayIds = new Set(endedArrays.map(a => a.id));
    this._arrays = active.arrays.filter(a => !endedArrayIds.has(a.id));
  }

  /** The dashboard, or null from a server without it (an older jobmagics). */
  private async _fetchDashboard(): Promise<IDashboard | null> {
    try {
      const dashboard = await getDashboard();
      this._dashboard = dashboard;
      this._dashboardAt = Date.now();
      return dashboard;
    } catch (error) {
      if (error instanceof APIError && error.status === 404 && error.type !== '') {
        this._dashboard = null;
        return null;
      }
      throw error;
    }
  }

  /**
   * The active rows the filter shows: the span around the rows in view of the
   * queue (everyone's or mine), or one active state's newest page.
   */
  private async _fetchActive(
    state: string,
    mine: boolean,
    single: boolean,
    shared: Promise<IQueuePage> | null,
    span: { offset: number; limit: number }
  ): Promise<IActivePage> {
    if (single) {
      // One state: its newest jobs, shown oldest first, after the arrays with elements in it.
      const [list, page] = await Promise.all([
        listJobs({ state: [state], mine, limit: ACTIVE_LIMIT, elements: false }),
        shared ?? listQueue({ limit: 1 })
      ]);
      const jobs = list.jobs.slice().reverse();
      const me = this._me ? this._me.user : '';
      const arrays = (page.arrays ?? []).filter(
        a => (a.counts[state] ?? 0) > 0 && (!mine || a.user === me)
      );
      return {
        jobs,
        total: list.total,
        count: jobs.length,
        offset: 0,
        limit: jobs.length,
        more: moreText({ [state]: list.total - jobs.length }),
        arrays
      };
    }
    const page = shared
      ? await shared
      : await listQueue({ mine, offset: span.offset, limit: span.limit });
    return {
      jobs: shared ? page.jobs.slice(0, span.limit) : page.jobs,
      total: page.total,
      count: page.total,
      offset: span.offset,
      limit: span.limit,
      more: '',
      arrays: page.arrays ?? []
    };
  }

  /** Fetch the rows in view now (the user scrolled out of what was fetched). */
  private async _loadWindow(): Promise<void> {
    if (this._windowLoading) {
      return;
    }
    this._windowLoading = true;
    try {
      const { state, mine } = this._filter;
      const single = state !== 'all' && state !== 'active' && state !== 'history';
      while (!single && !this._disposed && !covers(this._held, this._window)) {
        const span = fetchSpan(this._window, WINDOW_PAGE, MAX_PAGE);
        const page = await this._fetchActive(state, mine, false, null, span);
        if (this._filter.state !== state || this._filter.mine !== mine) {
          break; // the filter changed meanwhile: its own refresh shows it
        }
        this._takeActive(page, [], []);
        this._changed.emit();
      }
    } catch {
      // The next refresh tries again (and shows the problem).
    } finally {
      this._windowLoading = false;
    }
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

  private _noteVersion(version: number, topics: ChangeCounts | undefined): void {
    if (version === this._version) {
      return;
    }
    const before = this._topics;
    const now = topics ?? null;
    const moved = before && now ? new Set(CHANGE_TOPICS.filter(t => now[t] !== before[t])) : null;
    this._version = version;
    this._topics = now;
    this._versionChanged.emit({ version, moved });
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
        this._noteVersion(reply.version, reply.topics);
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

  private _activeStart = 0;
  private _activeCount = 0;
  /** The rows of the active list fetched, and those in view (what a refresh fetches). */
  private _held: IRange = { start: 0, end: 0 };
  private _window: IRange = { start: 0, end: 30 };
  private _windowLoading = false;
  private _historyInView = true;
  /** The filter the history was read for, and whether a change since went unread. */
  private _historyFor = '';
  /** The `ended` count the history was read at (null: not known). */
  private _historyEnded: number | null = null;
  private _historyStale = false;
  private _dashboard: IDashboard | null = null;
  private _dashboardAt = 0;
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
  private _topics: ChangeCounts | null = null;
  private _started = false;
  private _disposed = false;
  private _longPollWorks = true;
  private _idleRounds = 0;
  private _lastRefreshMs = 0;
  private _wakeUp: (() => void) | null = null;
  private _onVisibility: () => void;
  private _changed = new Signal<this, void>(this);
  private _shownChanged = new Signal<this, void>(this);
  private _versionChanged = new Signal<this, IQueueChange>(this);
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
