/**
 * The view of one job in the main area: its header and fields, what it measured (a live plot
 * and the fit) or displayed (its rich outputs), what produced it (the submission), its state
 * history as a timeline, and its log. The sections live in `jobview/`; this widget fetches
 * the job's details and wakes the sections when the queue changes.
 */
import { Notification } from '@jupyterlab/apputils';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { actOnJob, getJob, type IJob, type IJobViewDetails, type JobAction } from './api';
import { ConfigSection } from './jobview/config';
import { JobFields, JobHeader } from './jobview/header';
import { LogSection } from './jobview/log';
import { MeasurementSection } from './jobview/measurement';
import { OutputsSection } from './jobview/outputs';
import { renderTimeline, timelineEntries } from './jobview/timeline';
import type { JobsModel } from './model';
import { actionsFor, isTerminal } from './states';

/** The sections that wait for the queue to change. */
interface ILiveSection extends Widget {
  wake(): void;
}

/** The kinds whose captured rich outputs the view shows. */
const KINDS_WITH_OUTPUTS = new Set(['python']);

export class JobView extends Panel {
  constructor(
    readonly jobId: string,
    private _model: JobsModel,
    private _rendermime: IRenderMimeRegistry | null = null
  ) {
    super();
    this.id = `jobmagics-job-${jobId}`;
    this.addClass('jm-JobView');
    this.node.dataset.jobId = jobId;
    this._header = new JobHeader((action, button) => void this._act(action, button));
    this._config = new ConfigSection(jobId);
    this._timeline = new Widget();
    this._timeline.addClass('jm-timeline-section');
    this._timeline.node.innerHTML =
      '<details class="jm-events jm-timeline" open><summary>State history</summary>' +
      '<ol class="jm-timeline-list" data-role="timeline"></ol></details>';
    this._log = new LogSection(jobId, () => this._isActive());
    this.addWidget(this._header);
    this.addWidget(this._timeline);
    this.addWidget(this._fields);
    this.addWidget(this._log);
    this._live.push(this._log);
    this._model.versionChanged.connect(this._onVersion, this);
    void this._refreshDetails();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.versionChanged.disconnect(this._onVersion, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._wakeSections();
  }

  private _state(): string | null {
    return this._job ? this._job.state : null;
  }

  private _isActive(): boolean {
    return this._job === null || !isTerminal(this._job.state);
  }

  private _wakeSections(): void {
    for (const section of this._live) {
      section.wake();
    }
  }

  private _onVersion(): void {
    void this._refreshDetails();
    this._wakeSections();
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
          const details = (await getJob(this.jobId)) as IJobViewDetails;
          if (this.isDisposed) {
            return;
          }
          this._render(details);
          this._header.showProblem('');
        } catch (error) {
          this._header.showProblem((error as Error).message);
        }
      } while (this._again && !this.isDisposed);
    } finally {
      this._fetching = false;
    }
  }

  private _render(details: IJobViewDetails): void {
    const job = details.job;
    const wasActive = this._isActive();
    const state = this._state();
    this._job = job;
    this.title.label = job.name ? `${job.name} (${job.id})` : job.id;
    this.node.dataset.state = job.state;
    const me = this._model.me;
    this._header.render(job, actionsFor(job, me ? me.user : '', me ? me.admin : false));
    this._fields.render(job);
    this._addSections(job);
    this._config.render(details);
    renderTimeline(
      this._timeline.node.querySelector('.jm-timeline-list') as HTMLElement,
      timelineEntries(details.events, Date.now() / 1000)
    );
    if (wasActive !== this._isActive() || state !== job.state) {
      // Started, ended or retried: the sections read their first (or last) pages now.
      this._wakeSections();
    }
  }

  /** The kind's sections, once its kind is known: between the header and the timeline. */
  private _addSections(job: IJob): void {
    if (this._sectionsAdded) {
      return;
    }
    this._sectionsAdded = true;
    const sections: Widget[] = [];
    if (job.kind === 'experiment') {
      const measurement = new MeasurementSection(this.jobId, () => this._state());
      sections.push(measurement);
      this._live.push(measurement);
    }
    if (KINDS_WITH_OUTPUTS.has(job.kind)) {
      const outputs = new OutputsSection(this.jobId, () => this._state(), this._rendermime);
      sections.push(outputs);
      this._live.push(outputs);
    }
    sections.push(this._config);
    sections.forEach((section, i) => {
      this.insertWidget(1 + i, section);
    });
  }

  private _header: JobHeader;
  private _fields = new JobFields();
  private _config: ConfigSection;
  private _timeline: Widget;
  private _log: LogSection;
  private _live: ILiveSection[] = [];
  private _job: IJob | null = null;
  private _sectionsAdded = false;
  private _fetching = false;
  private _again = false;
}
