/**
 * The recent history in the Jobs panel: a short list (50 rows at most), updated
 * in place by key, so that a click is never lost to a re-render and a row is
 * redrawn only when its job changed.
 */
import type { IJobRow, IWhoAmI } from './api';
import { createJobRow, updateJobRow, updateRowTime } from './jobrow';
import { keptRows, placeRow } from './keyed_rows';

export class HistoryList {
  /** `openJob` opens a job's view (a row's id is a link to it). */
  constructor(
    readonly node: HTMLElement,
    private readonly _openJob: (id: string) => void
  ) {}

  /**
   * Show `jobs`, newest first; `empty` when there are none, and `more` ("… and
   * 179,950 more finished") below them.
   */
  render(jobs: IJobRow[], now: number, me: IWhoAmI | null, empty: string, more: string): void {
    const list = this.node;
    const existing = keptRows(list, 'jobId', new Set(jobs.map(j => j.id)));
    jobs.forEach((job, index) => {
      const row = existing.get(job.id) ?? createJobRow(this._openJob);
      if (this._shown.get(row) !== job) {
        updateJobRow(row, job, now, me ? me.user : '', me ? me.admin : false);
        this._shown.set(row, job);
      }
      placeRow(list, row, index);
    });
    if (jobs.length === 0 && !more && empty) {
      list.appendChild(note('jm-empty', empty));
    }
    if (more) {
      list.appendChild(note('jm-more', more)).dataset.role = 'more';
    }
  }

  /** The clock moved: elapsed times and ages follow; nothing is rebuilt. */
  tick(now: number): void {
    for (const row of Array.from(this.node.children) as HTMLElement[]) {
      const job = this._shown.get(row);
      if (job) {
        updateRowTime(row, job, now);
      }
    }
  }

  /** The job each row shows. */
  private _shown = new WeakMap<HTMLElement, IJobRow>();
}

function note(className: string, text: string): HTMLElement {
  const li = document.createElement('li');
  li.className = className;
  li.textContent = text;
  return li;
}
