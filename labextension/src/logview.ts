/**
 * The detail view of one job in the main area: its fields, its state history,
 * action buttons and a live-tailing view of its log.
 */
import { Notification } from '@jupyterlab/apputils';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { actOnJob, getJob, getLog, type IEvent, type IJob, type JobAction } from './api';
import {
  describeSpec,
  formatBytes,
  formatDuration,
  formatTimestamp,
  formatTiming,
  workerLostText
} from './format';
import type { JobsModel } from './model';
import { renderBadge, renderProgress } from './jobrow';
import { actionsFor, isTerminal } from './states';

/** How much of a long log to show when the view opens (bytes from the end). */
const INITIAL_TAIL = 256 * 1024;
/** Keep at most this many characters in the DOM. */
const MAX_CHARS = 2 * 1024 * 1024;
const TAIL_MS_VISIBLE = 500;
const TAIL_MS_HIDDEN = 3000;

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

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

export class JobView extends Widget {
  constructor(readonly jobId: string, private _model: JobsModel) {
    super();
    this.id = `jobmagics-job-${jobId}`;
    this.addClass('jm-JobView');
    this.node.dataset.jobId = jobId;
    this._build();
    this._model.versionChanged.connect(this._onVersion, this);
    void this._refreshDetails();
    void this._tail();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.versionChanged.disconnect(this._onVersion, this);
    this._wake();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._wake();
  }

  private _build(): void {
    this.node.innerHTML =
      '<div class="jm-detail-header">' +
      '<span class="jm-badge"></span><h2 class="jm-detail-title"></h2>' +
      '<span class="jm-detail-actions"></span></div>' +
      '<div class="jm-row2"><div class="jm-progress"><div class="jm-progress-bar"></div></div>' +
      '<span class="jm-stage"></span></div>' +
      '<div class="jm-problem" style="display:none"></div>' +
      '<table class="jm-fields"><tbody></tbody></table>' +
      '<details class="jm-events"><summary>State history</summary><ol></ol></details>' +
      '<div class="jm-log-header"><span>Log</span><span class="jm-log-size"></span>' +
      '<label class="jm-follow"><input type="checkbox" checked> Follow</label></div>' +
      '<pre class="jm-log" data-role="log"></pre>';
    const actions = this.node.querySelector('.jm-detail-actions') as HTMLElement;
    for (const action of ['cancel', 'retry', 'hold', 'release'] as JobAction[]) {
      const button = document.createElement('button');
      button.className = 'jp-Button jp-mod-styled jm-action-button';
      button.dataset.action = action;
      button.textContent = action[0].toUpperCase() + action.slice(1);
      button.addEventListener('click', () => void this._act(action, button));
      actions.appendChild(button);
    }
    this._log = this.node.querySelector('.jm-log') as HTMLElement;
    this._follow = this.node.querySelector('.jm-follow input') as HTMLInputElement;
  }

  private _onVersion(): void {
    void this._refreshDetails();
    this._wake();
  }

  private async _act(action: JobAction, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const job = await actOnJob(this.jobId, action);
      if (job.id !== this.jobId) {
        Notification.info(`Retried ${this.jobId} as ${job.id}`, { autoClose: 4000 });
      }
    } catch (error) {
      Notification.error(`Could not ${action} ${this.jobId}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    }
    this._model.refresh();
    await this._refreshDetails();
  }

  private async _refreshDetails(): Promise<void> {
    if (this._fetching) {
      this._again = true;
      return;
    }
    this._fetching = true;
    try {
      do {
        this._again = false;
        try {
          const details = await getJob(this.jobId);
          if (this.isDisposed) {
            return;
          }
          this._job = details.job;
          this._renderDetails(details.job, details.events);
          this._showProblem('');
        } catch (error) {
          this._showProblem((error as Error).message);
        }
      } while (this._again && !this.isDisposed);
    } finally {
      this._fetching = false;
    }
  }

  private _showProblem(message: string): void {
    const node = this.node.querySelector('.jm-problem') as HTMLElement;
    node.textContent = message;
    node.style.display = message ? '' : 'none';
  }

  private _renderDetails(job: IJob, events: IEvent[]): void {
    this.title.label = job.name ? `${job.name} (${job.id})` : job.id;
    this.node.dataset.state = job.state;
    renderBadge(this.node.querySelector('.jm-badge') as HTMLElement, job);
    (this.node.querySelector('.jm-detail-title') as HTMLElement).textContent = job.name
      ? `${job.id} · ${job.name}`
      : job.id;
    renderProgress(
      this.node.querySelector('.jm-progress-bar') as HTMLElement,
      this.node.querySelector('.jm-stage') as HTMLElement,
      job
    );
    const me = this._model.me;
    const allowed = actionsFor(job, me ? me.user : '', me ? me.admin : false);
    for (const button of Array.from(
      this.node.querySelectorAll('.jm-detail-actions button')
    ) as HTMLButtonElement[]) {
      const action = button.dataset.action as keyof typeof allowed;
      button.disabled = !allowed[action];
    }
    const now = Date.now() / 1000;
    const rows: [string, string][] = [
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
    const tbody = this.node.querySelector('.jm-fields tbody') as HTMLElement;
    tbody.innerHTML = '';
    for (const [key, value] of rows) {
      if (!value) {
        continue;
      }
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = key;
      const td = document.createElement('td');
      td.textContent = value;
      if (key === 'Code') {
        td.className = 'jm-code';
        td.textContent = job.code || '';
      }
      tr.appendChild(th);
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    const ol = this.node.querySelector('.jm-events ol') as HTMLElement;
    ol.innerHTML = '';
    for (const event of events) {
      const li = document.createElement('li');
      li.textContent =
        `${formatTimestamp(event.at)}  ${event.state}${event.detail ? `: ${event.detail}` : ''}`;
      ol.appendChild(li);
    }
  }

  /** Follow the log: fetch new bytes from the last offset until the job is over. */
  private async _tail(): Promise<void> {
    let offset = -INITIAL_TAIL;
    let first = true;
    while (!this.isDisposed) {
      let done = false;
      let full = false;
      try {
        const chunk = await getLog(this.jobId, offset);
        if (this.isDisposed) {
          return;
        }
        if (first && chunk.size > INITIAL_TAIL) {
          this._append(`… (${formatBytes(chunk.size - INITIAL_TAIL)} of earlier output not shown)\n`);
        }
        first = false;
        full = chunk.text.length > 0 && chunk.offset < chunk.size;
        offset = chunk.offset;
        if (chunk.text) {
          this._append(chunk.text);
        }
        (this.node.querySelector('.jm-log-size') as HTMLElement).textContent = formatBytes(
          chunk.size
        );
        done = chunk.done && !full;
      } catch {
        // Keep trying: the server may be restarting.
      }
      if (done) {
        this.node.dataset.logDone = 'true';
        // Finished: wait for a retry (the job becoming active again) before tailing more.
        await this._sleepUntilWoken(null);
        if (this._job && !isTerminal(this._job.state)) {
          this.node.dataset.logDone = 'false';
        }
        continue;
      }
      if (!full) {
        const hidden = document.hidden || !this.isVisible;
        await this._sleepUntilWoken(hidden ? TAIL_MS_HIDDEN : TAIL_MS_VISIBLE);
      }
    }
  }

  private _append(text: string): void {
    const log = this._log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
    log.appendChild(document.createTextNode(text));
    this._chars += text.length;
    while (this._chars > MAX_CHARS && log.firstChild) {
      this._chars -= (log.firstChild.textContent || '').length;
      log.removeChild(log.firstChild);
    }
    if (this._follow.checked && atBottom) {
      log.scrollTop = log.scrollHeight;
    }
  }

  private _sleepUntilWoken(ms: number | null): Promise<void> {
    const woken = new Promise<void>(resolve => {
      this._wakeUp = resolve;
    });
    return ms === null ? woken : Promise.race([woken, sleep(ms)]);
  }

  private _wake(): void {
    const wake = this._wakeUp;
    this._wakeUp = null;
    if (wake) {
      wake();
    }
  }

  private _job: IJob | null = null;
  private _log!: HTMLElement;
  private _follow!: HTMLInputElement;
  private _chars = 0;
  private _fetching = false;
  private _again = false;
  private _wakeUp: (() => void) | null = null;
}
