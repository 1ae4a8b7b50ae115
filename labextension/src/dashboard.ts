/**
 * The top of the sidebar: the lab's dashboard. The whole queue's state and a
 * header per resource (`hardware: running JOB-... rabi (alice), 3 waiting ·
 * active`), each with Pause/Resume for queue admins (disabled, saying why, for
 * others); the server's warnings (no live worker serves a pending job's
 * resource); the live workers; what runs next. Redrawn in place from the
 * model's dashboard, read again on every change of the queue.
 */
import { Notification } from '@jupyterlab/apputils';

import { pauseOrResume } from './api';
import {
  type IDashboard,
  nextText,
  pauseTitle,
  queueStateText,
  resourceHeaderText
} from './dashboard_text';
import type { JobsModel } from './model';
import { renderWorkers } from './workers';

export interface IDashboardViewOptions {
  /** The element the dashboard fills. */
  container: HTMLElement;
  model: JobsModel;
  openJob: (id: string) => void;
}

export class DashboardView {
  constructor(options: IDashboardViewOptions) {
    this._model = options.model;
    this._openJob = options.openJob;
    const node = options.container;
    node.classList.add('jm-dashboard');
    node.dataset.role = 'dashboard';
    node.innerHTML =
      '<div class="jm-queue-state" data-role="queue-state"><span class="jm-queue-text"></span>' +
      '<button class="jm-pause-button jp-Button jp-mod-minimal" data-pause=""></button></div>' +
      '<ul class="jm-list jm-resources" data-role="resources"></ul>' +
      '<div class="jm-warnings" data-role="warnings"></div>' +
      '<h3 class="jm-section-title jm-dash-title" data-role="workers-title">Workers</h3>' +
      '<ul class="jm-list jm-workers" data-role="workers"></ul>' +
      '<h3 class="jm-section-title jm-dash-title" data-role="next-title">Next</h3>' +
      '<ol class="jm-list jm-next" data-role="next"></ol>';
    this._node = node;
    node.addEventListener('click', event => this._onClick(event));
  }

  /** Show the model's dashboard (hidden without one: an older server). */
  render(): void {
    const dashboard = this._model.dashboard;
    this._node.style.display = dashboard ? '' : 'none';
    if (!dashboard) {
      return;
    }
    const elapsed = Math.max(0, (Date.now() - this._model.dashboardAt) / 1000);
    this._renderQueue(dashboard);
    this._renderResources(dashboard);
    this._renderWarnings(dashboard.warnings);
    const live = dashboard.workers.filter(w => w.alive).length;
    this._part('workers-title').textContent = `Workers (${live} live)`;
    renderWorkers(this._part('workers'), dashboard.workers, elapsed);
    this._renderNext(dashboard);
  }

  private _part(role: string): HTMLElement {
    return this._node.querySelector(`[data-role="${role}"]`) as HTMLElement;
  }

  private _renderQueue(d: IDashboard): void {
    const line = this._part('queue-state');
    setText(line.querySelector('.jm-queue-text') as HTMLElement, queueStateText(d));
    line.title = `${d.queue.stored.toLocaleString('en-US')} jobs stored`;
    line.dataset.paused = d.paused ? '1' : '0';
    showPause(line.querySelector('button') as HTMLButtonElement, '', 'the queue', d.paused, d.may_pause);
  }

  private _renderResources(d: IDashboard): void {
    const list = this._part('resources');
    const rows = new Map<string, HTMLElement>();
    for (const child of Array.from(list.children) as HTMLElement[]) {
      rows.set(child.dataset.resource ?? '', child);
    }
    const wanted = new Set(d.resources.map(r => r.name));
    for (const [name, row] of rows) {
      if (!wanted.has(name)) {
        row.remove();
      }
    }
    d.resources.forEach((r, index) => {
      let row = rows.get(r.name);
      if (!row) {
        row = document.createElement('li');
        row.className = 'jm-resource';
        row.dataset.resource = r.name;
        row.innerHTML =
          '<span class="jm-resource-text"></span>' +
          '<button class="jm-pause-button jp-Button jp-mod-minimal"></button>';
      }
      row.dataset.paused = r.paused ? '1' : '0';
      const text = row.querySelector('.jm-resource-text') as HTMLElement;
      setText(text, resourceHeaderText(r));
      text.title = r.next ? `next: ${r.next.id} (${r.next.user})` : '';
      const button = row.querySelector('button') as HTMLButtonElement;
      showPause(button, r.name, r.name, r.paused, d.may_pause);
      if (list.children[index] !== row) {
        list.insertBefore(row, list.children[index] ?? null);
      }
    });
  }

  private _renderWarnings(warnings: string[]): void {
    const box = this._part('warnings');
    const now = Array.from(box.children).map(c => c.textContent);
    if (JSON.stringify(now) === JSON.stringify(warnings)) {
      return;
    }
    box.innerHTML = '';
    for (const warning of warnings) {
      const div = document.createElement('div');
      div.className = 'jm-warning';
      div.textContent = warning;
      box.appendChild(div);
    }
  }

  private _renderNext(d: IDashboard): void {
    const list = this._part('next');
    const next = d.queue.next;
    this._part('next-title').style.display = next.length ? '' : 'none';
    const texts = next.map(nextText);
    const ids = next.map(j => j.id);
    const rows = Array.from(list.children) as HTMLElement[];
    if (
      rows.length === ids.length &&
      rows.every((row, i) => row.dataset.nextId === ids[i] && row.textContent === texts[i])
    ) {
      return;
    }
    list.innerHTML = '';
    next.forEach((job, i) => {
      const li = document.createElement('li');
      li.className = 'jm-next-job';
      li.dataset.nextId = job.id;
      li.textContent = texts[i];
      li.title = `Open ${job.id}`;
      list.appendChild(li);
    });
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const button = target.closest('button[data-pause]') as HTMLButtonElement | null;
    if (button) {
      if (!button.disabled) {
        void this._pause(button);
      }
      return;
    }
    const next = target.closest('li[data-next-id]') as HTMLElement | null;
    if (next) {
      this._openJob(next.dataset.nextId!);
    }
  }

  private async _pause(button: HTMLButtonElement): Promise<void> {
    const resource = button.dataset.pause || null;
    const action = button.dataset.action === 'resume' ? 'resume' : 'pause';
    button.disabled = true;
    try {
      this._model.setDashboard(await pauseOrResume(action, resource));
    } catch (error) {
      Notification.error(`Could not ${action} ${resource ?? 'the queue'}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    } finally {
      this._model.refresh();
    }
  }

  private _model: JobsModel;
  private _openJob: (id: string) => void;
  private _node: HTMLElement;
}

/** A Pause/Resume button: its action, text, and whether the caller may click it. */
function showPause(
  button: HTMLButtonElement,
  resource: string,
  what: string,
  paused: boolean,
  mayPause: boolean
): void {
  button.dataset.pause = resource;
  button.dataset.action = paused ? 'resume' : 'pause';
  setText(button, paused ? 'Resume' : 'Pause');
  button.disabled = !mayPause;
  button.title = pauseTitle(what, paused, mayPause);
}

function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) {
    el.textContent = text;
  }
}
