/**
 * The live state of the queue as the browser sees it.
 *
 * One `JobsModel` per JupyterLab page. It refreshes by itself, pushed by the
 * long-poll route `changes` (`ChangeWaiter`: the server answers as soon as
 * the queue moves). Every request is asynchronous; the UI never waits on it.
 *
 * A refresh reads what the sidebar shows, never the whole queue: the rows of
 * the active list in view (`ActiveRows`: the list is virtualised), the
 * dashboard, the first page of everyone's queue that the notifications watch
 * (one request with the rows in view when those are the top of the queue),
 * and the recent history only while it is in view and only when a job ended
 * since it was read (the `ended` topic).
 */
import { type ISignal, Signal } from '@lumino/signaling';

import { ActiveRows, type IActiveFilter } from './active_rows';
import {
  APIError,
  getDashboard,
  type IArrayRow,
  type IJobRow,
  type IWhoAmI,
  listArrays,
  listJobs,
  listQueue,
  whoami
} from './api';
import { ChangeWaiter, type IQueueChange, sleep } from './changes';
import type { IDashboard } from './dashboard_text';
import { moreText } from './format';
import { describeProblem, type IModelProblem } from './problems';
import { ACTIVE_STATES, isTerminal, TERMINAL_STATES } from './states';
import type { ChangeCounts } from './topics';
import { type IRange, keepSame } from './virtual_list';

export type { IQueueChange } from './changes';
export type { IModelProblem } from './problems';

export interface IFilter {
  /** "all", "active", "history" or one state. */
  state: string;
  mine: boolean;
}

const HISTORY_LIMIT = 50;
/** Finished arrays shown above the recent history (one row each, retry at hand). */
const FINISHED_ARRAYS = 10;
/**
 * The first page of everyone's queue, which the notifications watch: read on every change,
 * so kept to the rows a sidebar shows at first (a listed job is about 1 KB of JSON).
 */
const EVERYONE_LIMIT = 50;
/** Minimum spacing of two refreshes, so a burst of progress updates stays cheap. */
const MIN_REFRESH_MS = 40;

export class JobsModel {
  constructor() {
    this._changes.changed.connect((_, change) => this._versionChanged.emit(change));
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
    return this._changes.topics;
  }

  /** Active arrays in the current filter, newest first: one row each. */
  get arrays(): IArrayRow[] {
    return this._active.arrays;
  }

  /** Recently finished arrays in the current filter, newest first. */
  get finishedArrays(): IArrayRow[] {
    return this._finishedArrays;
  }

  /** The active jobs fetched (those around the rows in view), queue order, from `activeStart`. */
  get active(): IJobRow[] {
    return this._active.jobs;
  }

  /** The place in the active list of `active[0]`. */
  get activeStart(): number {
    return this._active.start;
  }

  /** The active job at place `index` of the list, if fetched. */
  activeAt(index: number): IJobRow | undefined {
    return this._active.at(index);
  }

  /** How many active jobs the current filter matches (shown or not). */
  get activeTotal(): number {
    return this._active.total;
  }

  /** How many rows the active list has (every active job; a one-state filter's first page). */
  get activeCount(): number {
    return this._active.count;
  }

  /** "… and 1,234 more running" below a one-state filter's first page, or "". */
  get activeMore(): string {
    return this._active.more;
  }

  /**
   * The rows of the active list in view: what a refresh fetches. Rows out of
   * what was fetched are fetched now, without waiting for a change.
   */
  setWindow(range: IRange): void {
    this._active.setWindow(range);
  }

  /** Whether the recent history is in view: it is read again on a change only then. */
  set historyInView(value: boolean) {
    const was = this._historyInView;
    this._historyInView = value;
    if (value && !was && this._historyStale) {
      this._changes.wake();
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
    this._changes.wake();
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
    this._changes.wake();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._active.stop();
    this._changes.dispose();
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
      const running =
        this._allActive.some(j => j.state === 'running') ||
        this._active.arrays.some(a => a.state === 'running');
      // The long poll's answer brings everyone's first page: the refresh's first read
      await this._changes.wait(ok, running, { limit: EVERYONE_LIMIT });
      const spent = Date.now() - t0;
      if (spent < MIN_REFRESH_MS) {
        await sleep(MIN_REFRESH_MS - spent);
      }
    }
  }

  /** The active list's filter now. */
  private _activeFilter(): IActiveFilter {
    const { state, mine } = this._filter;
    return { state, mine, single: state !== 'all' && state !== 'active' && state !== 'history' };
  }

  /** Fetch identity, the active rows in view, the dashboard, the history if it moved. */
  private async _refresh(): Promise<boolean> {
    try {
      if (!this._me) {
        this._me = await whoami();
      }
      const filter = this._activeFilter();
      const { state, mine, single } = filter;
      const wantActive =
        state === 'all' || state === 'active' || (ACTIVE_STATES as readonly string[]).includes(state);
      const span = this._active.span;
      // The rows in view at the top of everyone's queue: the notifications' page serves both.
      const shared = !mine && !single && span.offset === 0 && span.limit <= EVERYONE_LIMIT;
      const pushed = this._changes.takePage();
      const everyone = pushed ? Promise.resolve(pushed) : listQueue({ limit: EVERYONE_LIMIT });
      const [all, shown] = await Promise.all([
        everyone,
        wantActive ? this._active.fetch(filter, span, shared ? everyone : null) : Promise.resolve(null)
      ]);
      // The rows in view show as soon as they come; the history and dashboard follow (asked
      // only now: on a busy server they would otherwise compete with them).
      this._active.take(shown, [], []);
      this._shownChanged.emit();
      const history = await this._readHistory(filter, all.topics?.ended ?? null);
      this._allActive = all.jobs.slice();
      this._allArrays = (all.arrays ?? []).slice();
      this._allActiveComplete = all.more === 0;
      this._active.take(shown, history?.jobs ?? [], history ? this._finishedArrays : []);
      this._changes.note(all.version, all.topics);
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
   * The dashboard, and the recent history (with the finished arrays) when the
   * filter shows it, it is in view and a job ended since it was read (`ended`:
   * the count the page read with the rows carried). The history read, or null.
   */
  private async _readHistory(
    filter: IActiveFilter,
    ended: number | null
  ): Promise<{ jobs: IJobRow[] } | null> {
    const { state, mine, single } = filter;
    const filterKey = `${state}/${mine}`;
    const wantHistory =
      state === 'all' || state === 'history' || (TERMINAL_STATES as readonly string[]).includes(state);
    const fresh = this._historyFor === filterKey && ended !== null && ended === this._historyEnded;
    const read = wantHistory && !fresh && (this._historyInView || this._historyFor !== filterKey);
    // An array is one row: its elements are never listed one by one (a 10,000-element
    // array would bury the history), here nor under a one-state filter.
    const [history, finished] = await Promise.all([
      read
        ? listJobs({
            state: single ? [state] : [...TERMINAL_STATES],
            mine,
            limit: HISTORY_LIMIT,
            elements: false
          })
        : Promise.resolve(null),
      read ? this._fetchFinishedArrays(mine, single ? state : null) : Promise.resolve(null),
      this._fetchDashboard()
    ]);
    if (history && finished) {
      this._history = keepSame(this._history, history.jobs);
      this._finishedArrays = finished;
      this._historyMore = moreText({
        [single ? state : 'finished']: history.total - history.jobs.length
      });
      this._historyFor = filterKey;
      this._historyEnded = ended;
      this._historyStale = false;
      return history;
    }
    if (!wantHistory) {
      this._history = [];
      this._finishedArrays = [];
      this._historyMore = '';
      this._historyFor = '';
    } else if (!fresh) {
      this._historyStale = true;
    }
    return null;
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

  private _changes = new ChangeWaiter();
  private _active = new ActiveRows(
    () => this._activeFilter(),
    () => (this._me ? this._me.user : ''),
    () => {
      if (!this._disposed) {
        this._changed.emit();
      }
    }
  );
  private _historyInView = true;
  /** The filter the history was read for, and whether a change since went unread. */
  private _historyFor = '';
  /** The `ended` count the history was read at (null: not known). */
  private _historyEnded: number | null = null;
  private _historyStale = false;
  private _dashboard: IDashboard | null = null;
  private _dashboardAt = 0;
  private _finishedArrays: IArrayRow[] = [];
  private _historyMore = '';
  private _allActive: IJobRow[] = [];
  private _allArrays: IArrayRow[] = [];
  private _allActiveComplete = true;
  private _history: IJobRow[] = [];
  private _me: IWhoAmI | null = null;
  private _problem: IModelProblem | null = null;
  private _filter: IFilter = { state: 'all', mine: false };
  private _started = false;
  private _disposed = false;
  private _lastRefreshMs = 0;
  private _changed = new Signal<this, void>(this);
  private _shownChanged = new Signal<this, void>(this);
  private _versionChanged = new Signal<this, IQueueChange>(this);
}
