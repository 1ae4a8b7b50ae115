/**
 * An experiment's measurement in the job view: the live plot of its data and, once it
 * completed, the fit summary. Each request asks only for the points after those held.
 */
import { Widget } from '@lumino/widgets';

import { APIError, getJobData } from '../api';
import { emptyData, type IPlotData, mergeDataPage, nextOffset } from './data';
import { renderPlot } from './plot';
import { formatValue } from './scales';
import { Follower, pauseMs } from './waker';

/** A table of a result's parameters and values (`<table class="jm-summary">`). */
export function renderSummary(table: HTMLElement, summary: Record<string, unknown>): void {
  const rows = Object.entries(summary).map(([name, value]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = name;
    const td = document.createElement('td');
    td.textContent = formatValue(value);
    td.title = typeof value === 'number' ? String(value) : '';
    tr.append(th, td);
    return tr;
  });
  const head = document.createElement('tr');
  head.innerHTML = '<th>Parameter</th><th>Value</th>';
  table.replaceChildren(head, ...rows);
}

export class MeasurementSection extends Widget {
  /** `state()` is the job's state as the view last read it (null: not read yet). */
  constructor(
    private readonly _jobId: string,
    private readonly _state: () => string | null
  ) {
    super();
    this.addClass('jm-measurement');
    this.node.innerHTML =
      '<h3 class="jm-section-title">Data</h3>' +
      '<div class="jm-plot-status" data-role="plot-status">Waiting for data…</div>' +
      '<div class="jm-plot-holder"></div>' +
      '<div class="jm-summary-holder" style="display:none"><h3 class="jm-section-title">Fit</h3>' +
      '<table class="jm-summary" data-role="summary"></table></div>';
    this._follower.start();
  }

  /** Something changed in the queue: ask for new points now. */
  wake(): void {
    this._follower.wake();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    this._follower.wake();
  }

  get data(): IPlotData {
    return this._data;
  }

  /** Ask for the points not held yet; the pause before asking again. */
  private async _step(): Promise<number | null> {
    const state = this._state();     // before the request: its answer is at least as new
    try {
      const page = await getJobData(this._jobId, nextOffset(this._data));
      if (this.isDisposed) {
        return null;
      }
      const before = this._data.count;
      this._data = mergeDataPage(this._data, page);
      this._render(page.exists, page.status);
      if (this._data.count > before && this._data.count < page.points) {
        return 0;          // the server sent one page of many: ask for the next at once
      }
    } catch (error) {
      this._status(error instanceof APIError ? `Cannot read its data: ${error.message}` : '');
    }
    const readAll = this._data.complete || this._data.count === 0;
    return pauseMs(state, readAll, this.isVisible);
  }

  private _status(text: string): void {
    (this.node.querySelector('.jm-plot-status') as HTMLElement).textContent = text;
  }

  private _render(exists: boolean, status: string): void {
    const data = this._data;
    this.node.dataset.points = String(data.count);
    this.node.dataset.complete = String(data.complete);
    if (!exists) {
      const ended = !['waiting', 'pending', 'running', null].includes(this._state());
      this._status(ended ? 'This job wrote no data.' : 'Waiting for data…');
      return;
    }
    const words = `${data.count} point${data.count === 1 ? '' : 's'}`;
    this._status(data.complete ? `${words}, complete` : `${words}${status ? ` (${status})` : ''}`);
    const key = `${data.count}|${data.x}|${data.y.join(',')}|${data.fit ? 'fit' : ''}`;
    if ((data.count > 0 || data.fit) && key !== this._plotted) {
      this._plotted = key;
      const holder = this.node.querySelector('.jm-plot-holder') as HTMLElement;
      holder.replaceChildren(renderPlot(data));
    }
    const summary = this.node.querySelector('.jm-summary-holder') as HTMLElement;
    if (data.summary && Object.keys(data.summary).length) {
      renderSummary(summary.querySelector('table') as HTMLElement, data.summary);
      summary.style.display = '';
    } else {
      summary.style.display = 'none';
    }
  }

  private _data: IPlotData = emptyData();
  /** What the plot on screen shows (redrawn only when that changes). */
  private _plotted = '';
  private _follower = new Follower(
    () => this._step(),
    () => !this.isDisposed
  );
}
