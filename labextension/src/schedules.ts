/**
 * Recurring schedules in the sidebar: a "Schedules" section (shown while the
 * queue has any) with one row each (`li.jm-schedule[data-schedule]`): its
 * name, rhythm, next run ("14:00 · in 4m 59s", or "paused"), its last run
 * and how its last tick went; pause / resume and run-now for its owner or a
 * queue admin. The rows are read from `GET schedules` whenever the queue
 * moved; the countdown follows the panel's clock in between.
 */
import { Notification } from '@jupyterlab/apputils';

import { actOnSchedule, type IScheduleRow, listSchedules, type ScheduleAction } from './api';
import { formatDuration } from './format';
import { keptRows, placeRow } from './keyed_rows';

/** "14:00" (seconds when they are not 0), with the date when not today. */
export function formatNextRun(row: IScheduleRow, now: number): string {
  if (row.paused) {
    return 'paused';
  }
  const when = new Date(row.next_at * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  let shown = `${pad(when.getHours())}:${pad(when.getMinutes())}`;
  if (when.getSeconds()) {
    shown += `:${pad(when.getSeconds())}`;
  }
  if (when.toDateString() !== new Date(now * 1000).toDateString()) {
    shown = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ${shown}`;
  }
  const left = row.next_at - now;
  return `${shown} · ${left <= 0 ? 'now' : `in ${formatDuration(left)}`}`;
}

export interface IScheduleListOptions {
  /** The section this controller owns: its title and list are made inside it. */
  container: HTMLElement;
  /** Ask the panel's model for a refresh (after a run-now). */
  refresh: () => void;
}

export class ScheduleList {
  constructor(options: IScheduleListOptions) {
    this._refresh = options.refresh;
    this._section = document.createElement('div');
    this._section.className = 'jm-schedules';
    this._section.dataset.role = 'schedules';
    this._section.style.display = 'none';
    const title = document.createElement('h3');
    title.className = 'jm-section-title';
    title.textContent = 'Schedules';
    this._section.appendChild(title);
    this._list = document.createElement('ul');
    this._list.className = 'jm-list';
    this._list.dataset.role = 'schedule-list';
    this._section.appendChild(this._list);
    options.container.appendChild(this._section);
    this._list.addEventListener('click', event => this._onClick(event));
  }

  /** Read the schedules again (the queue moved); the rows follow. */
  async reload(): Promise<void> {
    try {
      this._rows = (await listSchedules()).schedules;
    } catch {
      return; // the panel says what is wrong with the queue; keep what was shown
    }
    this.render(Date.now() / 1000);
  }

  /** Show the rows read last, their countdowns at `now`. */
  render(now: number): void {
    this._section.style.display = this._rows.length ? '' : 'none';
    const existing = keptRows(this._list, 'schedule', new Set(this._rows.map(r => r.name)));
    this._rows.forEach((schedule, index) => {
      const row = existing.get(schedule.name) ?? createRow(schedule.name);
      updateRow(row, schedule, now);
      placeRow(this._list, row, index);
    });
  }

  private _onClick(event: MouseEvent): void {
    const button = (event.target as HTMLElement).closest(
      'button[data-schedule-action]'
    ) as HTMLButtonElement | null;
    const row = button?.closest('li[data-schedule]') as HTMLElement | null;
    if (!button || !row || button.disabled) {
      return;
    }
    event.stopPropagation();
    void this._act(row.dataset.schedule!, button.dataset.scheduleAction as ScheduleAction, button);
  }

  private async _act(name: string, action: ScheduleAction, button: HTMLButtonElement) {
    button.disabled = true;
    try {
      const reply = await actOnSchedule(name, action);
      this._rows = this._rows.map(r => (r.name === name ? reply.schedule : r));
      if (action === 'run-now') {
        Notification.info(`${name}: submitted ${reply.jobs.join(', ')}`, { autoClose: 4000 });
        this._refresh();
      }
    } catch (error) {
      Notification.error(`Could not ${action} ${name}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    } finally {
      button.disabled = false;
      this.render(Date.now() / 1000);
    }
  }

  private _refresh: () => void;
  private _section: HTMLElement;
  private _list: HTMLElement;
  private _rows: IScheduleRow[] = [];
}

function createRow(name: string): HTMLElement {
  const row = document.createElement('li');
  row.className = 'jm-job jm-schedule';
  row.dataset.schedule = name;
  row.innerHTML =
    '<div class="jm-row1"><span class="jm-name"></span>' +
    '<span class="jm-actions">' +
    '<button class="jp-Button jp-mod-minimal jm-schedule-button" data-schedule-action="pause"></button>' +
    '<button class="jp-Button jp-mod-minimal jm-schedule-button" data-schedule-action="run-now"' +
    ' title="Submit a run now">Run now</button></span></div>' +
    '<div class="jm-row2"><span class="jm-rhythm"></span></div>' +
    '<div class="jm-row2"><span class="jm-next" data-role="next-run"></span></div>' +
    '<div class="jm-row3"><span class="jm-last"></span></div>';
  return row;
}

function updateRow(row: HTMLElement, schedule: IScheduleRow, now: number): void {
  const text = (selector: string, value: string) => {
    const node = row.querySelector(selector) as HTMLElement;
    if (node.textContent !== value) {
      node.textContent = value;
    }
  };
  text('.jm-name', schedule.name);
  (row.querySelector('.jm-name') as HTMLElement).title = schedule.what;
  text('.jm-rhythm', `${schedule.rhythm} · ${schedule.user}`);
  text('.jm-next', `next ${formatNextRun(schedule, now)}`);
  const last = schedule.last_job
    ? `last ${schedule.last_job} ${schedule.last_state ?? 'removed'}`
    : 'no run yet';
  text('.jm-last', schedule.last_note ? `${last} · ${schedule.last_note}` : last);
  const toggle = row.querySelector('[data-schedule-action]') as HTMLButtonElement;
  const verb = schedule.paused ? 'resume' : 'pause';
  toggle.dataset.scheduleAction = verb;
  text('[data-schedule-action]', schedule.paused ? 'Resume' : 'Pause');
  toggle.title = schedule.paused ? 'Submit its runs again' : 'Stop submitting its runs';
  for (const button of Array.from(row.querySelectorAll('button')) as HTMLButtonElement[]) {
    button.style.display = schedule.may_act ? '' : 'none';
  }
  row.classList.toggle('jm-mod-paused', schedule.paused);
}
