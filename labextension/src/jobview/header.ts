/**
 * The top of the job view: badge, id and name, action buttons, progress, a problem line;
 * and the job's fields (who, what it runs, where, when, with what).
 */
import { Widget } from '@lumino/widgets';

import type { IJob, JobAction } from '../api';
import {
  describeSpec,
  formatBytes,
  formatDuration,
  formatTimestamp,
  formatTiming,
  workerLostText
} from '../format';
import { renderBadge, renderProgress } from '../jobrow';
import type { IActions } from '../states';

const ACTIONS: JobAction[] = ['cancel', 'retry', 'hold', 'release'];

/**
 * What the job runs: its command line, its code (shown whole), or else the server's one-line
 * summary, so a job of a kind without a row of its own (an experiment, a function, a kind
 * added later) still says what it runs.
 */
function runsRow(job: IJob): [string, string] {
  if (job.command) {
    return ['Command', describeSpec(job.command, null, 2000)];
  }
  if (job.code) {
    return ['Code', describeSpec(null, job.code, 2000)];
  }
  return ['Runs', job.summary];
}

function fieldRows(job: IJob, now: number): [string, string][] {
  return [
    ['User', `${job.user}@${job.host}`],
    ['Kind', job.kind + (job.backend !== 'local' ? ` (${job.backend})` : '')],
    runsRow(job),
    ['Directory', job.cwd],
    ['Submitted', formatTimestamp(job.submitted_at)],
    ['Started', formatTimestamp(job.started_at)],
    ['Finished', formatTimestamp(job.finished_at)],
    ['Time', workerLostText(job, now) ?? formatTiming(job, now)],
    ['Priority', String(job.priority)],
    ['Resources', job.resources.join(', ')],
    ['CPUs / memory', `${job.cpus}${job.memory ? ` / ${formatBytes(job.memory)}` : ''}`],
    ['After', job.after.join(', ')],
    ['Timeout', job.timeout ? formatDuration(job.timeout) : ''],
    ['Attempt', `${job.attempt} of ${job.retries + 1}`],
    ['Worker', job.worker || ''],
    ['Exit code', job.exit_code === null ? '' : String(job.exit_code)],
    ['Error', job.error || ''],
    ['Log', job.log_path],
    ['Data', job.data_path]
  ];
}

export class JobHeader extends Widget {
  constructor(onAction: (action: JobAction, button: HTMLButtonElement) => void) {
    super();
    this.addClass('jm-JobHeader');
    this.node.innerHTML =
      '<div class="jm-detail-header">' +
      '<span class="jm-badge"></span><h2 class="jm-detail-title"></h2>' +
      '<span class="jm-detail-actions"></span></div>' +
      '<div class="jm-row2"><div class="jm-progress"><div class="jm-progress-bar"></div></div>' +
      '<span class="jm-stage"></span></div>' +
      '<div class="jm-problem" style="display:none"></div>';
    const actions = this.node.querySelector('.jm-detail-actions') as HTMLElement;
    for (const action of ACTIONS) {
      const button = document.createElement('button');
      button.className = 'jp-Button jp-mod-styled jm-action-button';
      button.dataset.action = action;
      button.textContent = action[0].toUpperCase() + action.slice(1);
      button.addEventListener('click', () => onAction(action, button));
      actions.appendChild(button);
    }
  }

  showProblem(message: string): void {
    const node = this.node.querySelector('.jm-problem') as HTMLElement;
    node.textContent = message;
    node.style.display = message ? '' : 'none';
  }

  render(job: IJob, allowed: IActions): void {
    renderBadge(this.node.querySelector('.jm-badge') as HTMLElement, job);
    (this.node.querySelector('.jm-detail-title') as HTMLElement).textContent = job.name
      ? `${job.id} · ${job.name}`
      : job.id;
    renderProgress(
      this.node.querySelector('.jm-progress-bar') as HTMLElement,
      this.node.querySelector('.jm-stage') as HTMLElement,
      job
    );
    for (const button of Array.from(
      this.node.querySelectorAll('.jm-detail-actions button')
    ) as HTMLButtonElement[]) {
      const action = button.dataset.action as keyof IActions;
      button.disabled = !allowed[action];
    }
  }
}

/** The job's fields, below what it measured or displayed (open: they are read often). */
export class JobFields extends Widget {
  constructor() {
    super();
    this.addClass('jm-fields-section');
    this.node.innerHTML =
      '<details open><summary>Details</summary>' +
      '<table class="jm-fields"><tbody></tbody></table></details>';
  }

  render(job: IJob): void {
    const tbody = this.node.querySelector('.jm-fields tbody') as HTMLElement;
    tbody.replaceChildren();
    for (const [key, value] of fieldRows(job, Date.now() / 1000)) {
      if (!value) {
        continue;
      }
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = key;
      const td = document.createElement('td');
      td.textContent = key === 'Code' ? job.code || '' : value;
      if (key === 'Code') {
        td.className = 'jm-code';
      }
      tr.append(th, td);
      tbody.appendChild(tr);
    }
  }
}
