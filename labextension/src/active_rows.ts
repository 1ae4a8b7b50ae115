/**
 * The active list's rows the browser holds: those around the rows in view.
 *
 * The list is virtualised (`virtual_list.ts`): of 1,000 active jobs the page
 * holds the rows in view, fetched in aligned pages (`fetchSpan`) as the user
 * scrolls, and a refresh reads those again. A one-state filter shows that
 * state's newest page instead.
 */
import { type IArrayRow, type IJobRow, type IQueuePage, listJobs, listQueue, MAX_PAGE } from './api';
import { moreText } from './format';
import { covers, fetchSpan, type IRange, keepSame } from './virtual_list';

/** The active list is fetched in pages of this many rows around the rows in view. */
const WINDOW_PAGE = 50;
/** The first page of a one-state filter. */
const ACTIVE_LIMIT = 100;

/** What the active list shows: everyone's or mine, all active states or one. */
export interface IActiveFilter {
  state: string;
  mine: boolean;
  /** One state, not "all", "active" or "history". */
  single: boolean;
}

/** The active rows a refresh fetched, and where they are in the list. */
export interface IActivePage {
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

export class ActiveRows {
  /**
   * `filter()`: the list's filter now; `me()`: the current user; `loaded()`:
   * rows fetched for a scroll (not a refresh) arrived.
   */
  constructor(
    private _filter: () => IActiveFilter,
    private _me: () => string,
    private _loaded: () => void
  ) {}

  /** The fetched rows (those around the rows in view), queue order, from `start`. */
  get jobs(): IJobRow[] {
    return this._jobs;
  }

  /** The place in the list of `jobs[0]`. */
  get start(): number {
    return this._start;
  }

  /** Active jobs the filter matches (shown or not). */
  get total(): number {
    return this._total;
  }

  /** Rows of the list (every active job; a one-state filter's first page). */
  get count(): number {
    return this._count;
  }

  /** "… and 1,234 more running" below a one-state filter's first page, or "". */
  get more(): string {
    return this._more;
  }

  /** Active arrays in the filter, newest first: one row each. */
  get arrays(): IArrayRow[] {
    return this._arrays;
  }

  /** The row at place `index` of the list, if fetched. */
  at(index: number): IJobRow | undefined {
    return this._jobs[index - this._start];
  }

  /** The rows a refresh reads: the page around the rows in view. */
  get span(): { offset: number; limit: number } {
    return fetchSpan(this._window, WINDOW_PAGE, MAX_PAGE);
  }

  /** The rows in view; those not fetched yet are fetched now, without waiting for a change. */
  setWindow(range: IRange): void {
    if (range.end <= range.start) {
      return; // hidden: keep what was shown
    }
    this._window = range;
    if (!covers(this._held, range)) {
      void this._loadWindow();
    }
  }

  /**
   * The rows the filter shows: the span around the rows in view of the queue
   * (everyone's or mine), or one state's newest page. `shared`: everyone's
   * first page when a refresh reads it anyway and it holds the span.
   */
  async fetch(
    filter: IActiveFilter,
    span: { offset: number; limit: number },
    shared: Promise<IQueuePage> | null
  ): Promise<IActivePage> {
    const { state, mine } = filter;
    if (filter.single) {
      // One state: its newest jobs, shown oldest first, after the arrays with elements in it.
      const [list, page] = await Promise.all([
        listJobs({ state: [state], mine, limit: ACTIVE_LIMIT, elements: false }),
        shared ?? listQueue({ limit: 1 })
      ]);
      const jobs = list.jobs.slice().reverse();
      const me = this._me();
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

  /**
   * Keep the rows fetched. The lists are fetched side by side: a job that
   * ended in between can be here and in the history (`ended`); its terminal
   * state is the newer one.
   */
  take(page: IActivePage | null, ended: IJobRow[], endedArrays: IArrayRow[]): void {
    const active = page ?? { jobs: [], total: 0, count: 0, offset: 0, limit: 0, more: '', arrays: [] };
    const endedIds = new Set(ended.map(j => j.id));
    const jobs = active.jobs.filter(j => !endedIds.has(j.id));
    const gone = active.jobs.length - jobs.length;
    this._jobs = keepSame(this._jobs, jobs);
    this._start = active.offset;
    this._held = { start: active.offset, end: active.offset + active.limit - gone };
    this._total = active.total - gone;
    this._count = active.count - gone;
    this._more = active.more;
    const endedArrayIds = new Set(endedArrays.map(a => a.id));
    this._arrays = active.arrays.filter(a => !endedArrayIds.has(a.id));
  }

  /** Fetch the rows in view now (the user scrolled out of what was fetched). */
  private async _loadWindow(): Promise<void> {
    if (this._loading) {
      return;
    }
    this._loading = true;
    try {
      const filter = this._filter();
      while (!filter.single && !this._stopped && !covers(this._held, this._window)) {
        const page = await this.fetch(filter, this.span, null);
        const now = this._filter();
        if (now.state !== filter.state || now.mine !== filter.mine) {
          break; // the filter changed meanwhile: its own refresh shows it
        }
        this.take(page, [], []);
        this._loaded();
      }
    } catch {
      // The next refresh tries again (and shows the problem).
    } finally {
      this._loading = false;
    }
  }

  /** Fetch nothing more for a scroll (the model was disposed). */
  stop(): void {
    this._stopped = true;
  }

  private _stopped = false;
  private _jobs: IJobRow[] = [];
  private _start = 0;
  private _total = 0;
  private _count = 0;
  private _more = '';
  private _arrays: IArrayRow[] = [];
  /** The rows fetched, and those in view (what a refresh fetches). */
  private _held: IRange = { start: 0, end: 0 };
  private _window: IRange = { start: 0, end: 30 };
  private _loading = false;
}
