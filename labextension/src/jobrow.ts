/**
 * One job as a row of the sidebar (`li.jm-job[data-job-id]`): badge, name,
 * move to top (`editrow`), cancel/retry, progress, user, priority (click to
 * change while the job waits), id and timing. Shared by the queue and history
 * lists and by the element lists of expanded arrays; built once and updated in
 * place, so that a click is never lost to a re-render.
 */
import { pauseIcon, refreshIcon, runIcon, stopIcon } from '@jupyterlab/ui-components';

import type { IJobBase, IJobRow } from './api';
import { MOVE_TOP_BUTTON, PRIORITY_LABEL, updateEdits, wireEdits } from './editrow';
import {
  describeSpec,
  formatAge,
  formatTiming,
  progressPercent,
  progressText,
  workerLostText
} from './format';
import { type IRowButton, rowButtons } from './row_actions';
import { badgeFor, isTerminal, workerLost } from './states';

/** Renders a job's state badge into `el`. Shared with the detail view. */
export function renderBadge(el: HTMLElement, job: IJobBase): void {
  const badge = badgeFor(job);
  el.className = `jm-badge ${badge.className}`;
  el.textContent = badge.label;
}

export function renderProgress(bar: HTMLElement, text: HTMLElement, job: IJobBase): void {
  // Progress matters while a job runs; a finished job's badge says it all.
  const active = !isTerminal(job.state);
  const pct = active ? progressPercent(job.progress) : null;
  const show = pct !== null || (!!job.stage && active);
  bar.parentElement!.style.display = pct !== null ? '' : 'none';
  bar.parentElement!.parentElement!.style.display = show ? '' : 'none';
  bar.style.width = `${pct ?? 0}%`;
  text.textContent = show ? progressText(job.progress, job.stage) : '';
  text.style.display = show ? '' : 'none';
}

/** A new, empty job row; Enter on it opens the job (clicks are delegated). */
export function createJobRow(openJob: (id: string) => void): HTMLElement {
  const row = document.createElement('li');
  row.className = 'jm-job';
  row.tabIndex = 0;
  row.innerHTML =
    '<div class="jm-row1">' +
    '<span class="jm-badge"></span>' +
    '<span class="jm-name"></span>' +
    '<span class="jm-actions">' +
    MOVE_TOP_BUTTON +
    '<button class="jm-icon-button jp-Button jp-mod-minimal" data-action="hold" title="Hold"></button>' +
    '<button class="jm-icon-button jp-Button jp-mod-minimal" data-action="release" title="Release"></button>' +
    '<button class="jm-icon-button jp-Button jp-mod-minimal" data-action="cancel" title="Cancel"></button>' +
    '<button class="jm-icon-button jp-Button jp-mod-minimal" data-action="retry" title="Retry"></button>' +
    '</span></div>' +
    '<div class="jm-row2"><div class="jm-progress"><div class="jm-progress-bar"></div></div>' +
    '<span class="jm-stage"></span></div>' +
    '<div class="jm-row3"><span class="jm-user"></span>' +
    PRIORITY_LABEL +
    '<span class="jm-id"></span>' +
    '<span class="jm-time"></span></div>';
  stopIcon.element({ container: row.querySelector('[data-action="cancel"]') as HTMLElement });
  refreshIcon.element({ container: row.querySelector('[data-action="retry"]') as HTMLElement });
  pauseIcon.element({ container: row.querySelector('[data-action="hold"]') as HTMLElement });
  runIcon.element({ container: row.querySelector('[data-action="release"]') as HTMLElement });
  wireEdits(row);
  row.addEventListener('keydown', event => {
    if (event.key === 'Enter') {
      openJob(row.dataset.jobId!);
    }
  });
  return row;
}

/** Show `job` in a row made by `createJobRow`, as `user` (a queue admin or not) sees it. */
export function updateJobRow(
  row: HTMLElement,
  job: IJobRow,
  now: number,
  user: string,
  admin: boolean
): void {
  row.dataset.jobId = job.id;
  row.dataset.state = job.state;
  row.dataset.user = job.user;
  row.classList.toggle('jm-mod-mine', job.user === user);
  row.classList.toggle('jm-mod-lost', workerLost(job));
  renderBadge(row.querySelector('.jm-badge') as HTMLElement, job);
  const name = row.querySelector('.jm-name') as HTMLElement;
  const runs = job.summary;
  name.textContent = job.name || describeSpec(null, runs, 40) || job.id;
  name.title = `${job.id}\n${runs}`;
  renderProgress(
    row.querySelector('.jm-progress-bar') as HTMLElement,
    row.querySelector('.jm-stage') as HTMLElement,
    job
  );
  (row.querySelector('.jm-user') as HTMLElement).textContent = job.user;
  (row.querySelector('.jm-id') as HTMLElement).textContent = job.id;
  updateRowTime(row, job, now);
  const buttons = rowButtons(job, user, admin);
  for (const action of ['cancel', 'retry', 'hold', 'release'] as const) {
    showButton(row.querySelector(`[data-action="${action}"]`) as HTMLButtonElement, buttons[action]);
  }
  updateEdits(row, job, buttons.move, buttons.edit);
}

/** The row's time ("running 4m 05s", "queued 12s"): what moves while the job does not. */
export function updateRowTime(row: HTMLElement, job: IJobRow, now: number): void {
  const time = row.querySelector('.jm-time') as HTMLElement;
  const text = workerLostText(job, now) ?? formatTiming(job, now);
  if (time.textContent !== text) {
    time.textContent = text;
    time.title = `submitted ${formatAge(job.submitted_at, now)}`;
  }
}

/** A row button as `rowButtons` says: shown or not, enabled or not, and why. */
export function showButton(button: HTMLButtonElement, how: IRowButton): void {
  button.style.display = how.shown ? '' : 'none';
  button.disabled = !how.enabled;
  button.title = how.title;
}
