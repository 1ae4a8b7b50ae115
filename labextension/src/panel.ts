/**
 * The "Jobs" sidebar, the lab's dashboard: each resource's state, the live
 * workers and what runs next (`dashboard`), then the live queue (a virtualised
 * list: only the rows in view are in the DOM) and the recent history of every
 * user. Redrawn in place when the model refreshes; a one-second clock moves
 * only the elapsed times.
 */
import { Notification } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { actOnJob, type IJobRow, type JobAction } from './api';
import { ArrayList } from './arrays';
import { DashboardView } from './dashboard';
import { jobsIcon } from './icons';
import { HistoryList } from './history_list';
import { createJobRow, updateJobRow, updateRowTime } from './jobrow';
import type { ChangeTopic } from './generated/job';
import type { IQueueChange, JobsModel } from './model';
import { ScheduleList } from './schedules';
import { ALL_STATES, isTerminal } from './states';
import { VirtualList } from './virtual_list';

/** The height of a job row (px): the virtualised list needs one height for all. */
export const ROW_HEIGHT = 62;

export { renderBadge, renderProgress } from './jobrow';

export interface IJobsPanelOptions {
  model: JobsModel;
  /** Open the detail view of a job. */
  openJob: (id: string) => void;
}

export class JobsPanel extends Widget {
  constructor(options: IJobsPanelOptions) {
    super();
    this._model = options.model;
    this._openJob = options.openJob;
    this.id = 'jobmagics-jobs';
    this.addClass('jm-JobsPanel');
    this.title.icon = jobsIcon;
    this.title.caption = 'Jobs';
    this._build();
    this._model.changed.connect(this._onModelChanged, this);
    this._model.shownChanged.connect(this._onShownChanged, this);
    this._model.versionChanged.connect(this._onVersionChanged, this);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._render();
    this._startClock();
  }

  /**
   * Bring array `id`'s row into view, expanded (a notification's "Show"). A
   * filter that hides it gives way to "All states"; the row is looked for
   * again after the next refreshes until it shows (or is not found twice).
   */
  showArray(id: string): void {
    this._reveal = { id, misses: 0 };
    if (this.isVisible) {
      this._render();
    }
    if (this._reveal) {
      const state = this._model.filter.state;
      if (state !== 'all' && state !== 'history') {
        this._stateSelect.value = 'all';
        this._model.filter = { ...this._model.filter, state: 'all' };
      }
    }
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._stopClock();
  }

  dispose(): void {
    this._stopClock();
    this._virtual.dispose();
    this._historyWatch.disconnect();
    this._model.changed.disconnect(this._onModelChanged, this);
    this._model.shownChanged.disconnect(this._onShownChanged, this);
    this._model.versionChanged.disconnect(this._onVersionChanged, this);
    super.dispose();
  }

  private _build(): void {
    const node = this.node;
    node.innerHTML = '';

    const header = document.createElement('div');
    header.className = 'jm-header';
    const title = document.createElement('h2');
    title.className = 'jm-title';
    title.textContent = 'Jobs';
    header.appendChild(title);

    const refresh = document.createElement('button');
    refresh.className = 'jm-icon-button jp-Button jp-mod-minimal';
    refresh.title = 'Refresh now';
    refresh.dataset.role = 'refresh';
    refreshIcon.element({ container: refresh, tag: 'span' });
    refresh.addEventListener('click', () => this._model.refresh());
    header.appendChild(refresh);
    node.appendChild(header);

    const filters = document.createElement('div');
    filters.className = 'jm-filters';
    const select = document.createElement('select');
    this._stateSelect = select;
    select.className = 'jp-mod-styled jm-state-filter';
    select.dataset.role = 'state-filter';
    select.title = 'Show jobs in this state';
    const options: [string, string][] = [
      ['all', 'All states'],
      ['active', 'Queued and running'],
      ['history', 'Finished'],
      ...ALL_STATES.map(s => [s, s] as [string, string])
    ];
    for (const [value, label] of options) {
      const opt = document.createElement('option');
      opt.value = value;
      opt.textContent = label;
      select.appendChild(opt);
    }
    select.addEventListener('change', () => {
      this._model.filter = { ...this._model.filter, state: select.value };
      this._render();
    });
    filters.appendChild(select);

    const mineLabel = document.createElement('label');
    mineLabel.className = 'jm-mine';
    const mine = document.createElement('input');
    mine.type = 'checkbox';
    mine.dataset.role = 'mine';
    mine.addEventListener('change', () => {
      this._model.filter = { ...this._model.filter, mine: mine.checked };
      this._render();
    });
    mineLabel.appendChild(mine);
    mineLabel.appendChild(document.createTextNode(' Mine'));
    filters.appendChild(mineLabel);
    node.appendChild(filters);

    this._problemNode = document.createElement('div');
    this._problemNode.className = 'jm-problem';
    this._problemNode.dataset.role = 'problem';
    this._problemNode.style.display = 'none';
    node.appendChild(this._problemNode);

    this._whoNode = document.createElement('div');
    this._whoNode.className = 'jm-who';
    node.appendChild(this._whoNode);

    const body = document.createElement('div');
    body.className = 'jm-body';
    const dashboard = document.createElement('div');
    body.appendChild(dashboard);
    this._dashboard = new DashboardView({
      container: dashboard,
      model: this._model,
      openJob: this._openJob
    });
    this._schedules = new ScheduleList({ container: body, refresh: () => this._model.refresh() });
    void this._schedules.reload();
    this._activeTitle = document.createElement('h3');
    this._activeTitle.className = 'jm-section-title';
    body.appendChild(this._activeTitle);
    this._arrays = this._arrayList(body, 'array-list');
    this._activeList = document.createElement('ul');
    this._activeList.className = 'jm-list';
    this._activeList.dataset.role = 'active-list';
    body.appendChild(this._activeList);
    this._virtual = new VirtualList<IJobRow>({
      list: this._activeList,
      scroller: body,
      rowHeight: ROW_HEIGHT,
      key: job => job.id,
      create: () => createJobRow(this._openJob),
      update: (row, job) => this._showRow(row, job),
      placeholder: placeholderRow,
      onRange: range => this._model.setWindow(range)
    });
    this._historyTitle = document.createElement('h3');
    this._historyTitle.className = 'jm-section-title';
    body.appendChild(this._historyTitle);
    this._finishedArrays = this._arrayList(body, 'finished-array-list');
    const historyList = document.createElement('ul');
    historyList.className = 'jm-list';
    historyList.dataset.role = 'history-list';
    body.appendChild(historyList);
    this._history = new HistoryList(historyList, this._openJob);
    node.appendChild(body);
    // The history is read again on a change only while it is in view or a screen below it
    // (behind a long queue it is not: a scroll brings it, read again, into view).
    this._historyWatch = new IntersectionObserver(
      entries => {
        for (const entry of entries) {
          this._historySeen.set(entry.target, entry.isIntersecting);
        }
        this._model.historyInView = Array.from(this._historySeen.values()).some(v => v);
      },
      { root: body, rootMargin: '0px 0px 100% 0px' }
    );
    this._historyWatch.observe(this._historyTitle);
    this._historyWatch.observe(historyList);

    // One delegated listener for every row and button.
    body.addEventListener('click', event => this._onClick(event));
  }

  /** A list of arrays (one expandable row each) in `body`. */
  private _arrayList(body: HTMLElement, role: string): ArrayList {
    const list = document.createElement('ul');
    list.className = 'jm-list jm-arrays';
    list.dataset.role = role;
    body.appendChild(list);
    return new ArrayList({
      list,
      openJob: this._openJob,
      refresh: () => this._model.refresh(),
      me: () => this._model.me,
      states: () => this._oneState()
    });
  }

  /** The one state the filter shows, if it shows one ([state]), else null. */
  private _oneState(): string[] | null {
    const state = this._model.filter.state;
    return state === 'all' || state === 'active' || state === 'history' ? null : [state];
  }

  /** Reveal the array asked for once its row shows. */
  private _revealArray(): void {
    const reveal = this._reveal;
    if (reveal && (this._finishedArrays.reveal(reveal.id) || this._arrays.reveal(reveal.id))) {
      this._reveal = null;
    }
  }

  /** The queue moved: the elements of expanded arrays are read again. */
  private _onVersionChanged(_: JobsModel, change: IQueueChange): void {
    const moved = (topic: ChangeTopic) => change.moved === null || change.moved.has(topic);
    this._arrays.reload();
    if (moved('ended')) {
      this._finishedArrays.reload();
    }
    if (moved('schedules')) {
      void this._schedules.reload();
    }
  }

  /** The rows in view came (the rest of the refresh follows): show them, and only them, now. */
  private _onShownChanged(): void {
    if (this.isVisible && !this._model.problem) {
      this._renderActive(this._showActive(), Date.now() / 1000);
    }
  }

  private _onModelChanged(): void {
    if (this.isVisible) {
      this._render();
    }
    if (this._reveal && ++this._reveal.misses > 2) {
      this._reveal = null; // not shown after two refreshes: an older array, out of the list
    }
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const button = target.closest('button[data-action]') as HTMLButtonElement | null;
    const row = target.closest('li[data-job-id]') as HTMLElement | null;
    if (!row) {
      return;
    }
    const id = row.dataset.jobId!;
    if (button) {
      event.stopPropagation();
      if (!button.disabled) {
        void this._act(id, button.dataset.action as JobAction, button);
      }
      return;
    }
    this._openJob(id);
  }

  private async _act(id: string, action: JobAction, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const job = await actOnJob(id, action);
      if (action === 'retry' && job.id !== id) {
        Notification.info(`Retried ${id} as ${job.id}`, { autoClose: 4000 });
      }
    } catch (error) {
      Notification.error(`Could not ${action} ${id}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    } finally {
      this._model.refresh();
    }
  }

  private _render(): void {
    const model = this._model;
    const problem = model.problem;
    if (problem) {
      this._problemNode.textContent = problem.message;
      this._problemNode.dataset.kind = problem.kind;
      this._problemNode.style.display = '';
    } else {
      this._problemNode.style.display = 'none';
    }
    const me = model.me;
    this._whoNode.textContent = me
      ? `${me.user}${me.admin ? ' (queue admin)' : ''} · ${me.queue}`
      : '';
    this._whoNode.title = me ? `Queue directory: ${me.queue}` : '';
    const state = model.filter.state;
    const showHistory = state === 'all' || state === 'history' || isTerminal(state);
    this._historyTitle.textContent = 'Recent history';
    this._historyTitle.style.display = showHistory ? '' : 'none';
    this._history.node.style.display = showHistory ? '' : 'none';
    const now = Date.now() / 1000;
    this._dashboard.render();
    this._renderActive(this._showActive(), now);
    this._finishedArrays.render(showHistory ? model.finishedArrays : [], now);
    this._schedules.render(now);
    this._history.render(
      model.history,
      now,
      model.me,
      model.finishedArrays.length ? '' : 'No finished jobs.',
      model.historyMore
    );
    this._revealArray();
  }

  /** Whether the filter shows the active list (every state but the finished ones). */
  private _showActive(): boolean {
    const state = this._model.filter.state;
    return state === 'all' || state === 'active' || (!isTerminal(state) && state !== 'history');
  }

  /** The active list: its title, its arrays and the rows in view. */
  private _renderActive(show: boolean, now: number): void {
    const model = this._model;
    const arrays = model.arrays.length;
    this._activeTitle.textContent =
      `Queue (${model.activeTotal.toLocaleString('en-US')}` +
      (arrays ? ` + ${arrays.toLocaleString('en-US')} array${arrays === 1 ? '' : 's'})` : ')');
    this._activeTitle.style.display = show ? '' : 'none';
    this._activeList.style.display = show ? '' : 'none';
    this._arrays.render(show ? model.arrays : [], now);
    this._virtual.render(
      show ? model.activeCount : 0,
      index => model.activeAt(index),
      show ? model.activeMore : '',
      show && !arrays ? 'No queued or running jobs.' : ''
    );
  }

  /** A job row of the queue shows `job` (called only when it changed). */
  private _showRow(row: HTMLElement, job: IJobRow): void {
    const me = this._model.me;
    updateJobRow(row, job, Date.now() / 1000, me ? me.user : '', me ? me.admin : false);
  }

  /** The clock: elapsed times and heartbeat ages move; nothing is fetched or rebuilt. */
  private _tick(): void {
    const now = Date.now() / 1000;
    this._virtual.forEachRow((row, job) => updateRowTime(row, job, now));
    this._history.tick(now);
    this._dashboard.render();
    this._arrays.render(this._showActive() ? this._model.arrays : [], now);
    this._schedules.render(now);
  }

  private _startClock(): void {
    if (this._clock === null) {
      // Elapsed times move even when the queue does not.
      this._clock = window.setInterval(() => this._tick(), 1000);
    }
  }

  private _stopClock(): void {
    if (this._clock !== null) {
      window.clearInterval(this._clock);
      this._clock = null;
    }
  }

  private _model: JobsModel;
  private _openJob: (id: string) => void;
  private _clock: number | null = null;
  /** An array to bring into view once its row shows, and how many refreshes missed it. */
  private _reveal: { id: string; misses: number } | null = null;
  private _stateSelect!: HTMLSelectElement;
  private _problemNode!: HTMLElement;
  private _whoNode!: HTMLElement;
  private _activeTitle!: HTMLElement;
  private _activeList!: HTMLElement;
  private _virtual!: VirtualList<IJobRow>;
  private _dashboard!: DashboardView;
  private _historyWatch!: IntersectionObserver;
  private _historySeen = new Map<Element, boolean>();
  private _history!: HistoryList;
  private _arrays!: ArrayList;
  private _finishedArrays!: ArrayList;
  private _schedules!: ScheduleList;
  private _historyTitle!: HTMLElement;
}

/** A row of the queue not fetched yet (the user scrolled past what was fetched). */
function placeholderRow(): HTMLElement {
  const row = document.createElement('li');
  row.className = 'jm-job jm-placeholder';
  row.textContent = '…';
  return row;
}
