/**
 * "Your job ended" notifications (JupyterLab 4 Notification API), for every
 * job of the current user, wherever it was submitted (notebook, CLI, panel).
 * An array is one notification when its last element ends ("Array ID (name)
 * failed: 3 failed, 37 completed"), never one per element.
 */
import { Notification } from '@jupyterlab/apputils';
import type { CommandRegistry } from '@lumino/commands';

import { getArray, getJob, type IArrayRow, type IJobBase, listJobs } from './api';
import { arrayEndedText } from './format';
import { endMessage } from './notify_text';
import type { IQueueChange, JobsModel } from './model';
import { endedSince, isActive, isTerminal, TERMINAL_STATES } from './states';

export { endMessage };

const TYPES: Record<string, Notification.TypeOptions> = {
  completed: 'success',
  failed: 'error',
  timeout: 'error',
  cancelled: 'warning'
};

/** "completed", "failed", "timed out", "was cancelled": how an array ended. */
const ARRAY_ENDS: Record<string, string> = {
  completed: 'completed',
  failed: 'failed',
  timeout: 'timed out',
  cancelled: 'was cancelled'
};

/** The notification text for an array whose every element ended. */
export function arrayEndMessage(array: IArrayRow): string {
  const what = array.name ? `${array.id} (${array.name})` : array.id;
  const how = ARRAY_ENDS[array.state] ?? `is ${array.state}`;
  return `Array ${what} ${how}: ${arrayEndedText(array.counts)}`;
}

/** More of my jobs than this ending at once (a bulk cancel) get one notification. */
const MAX_SEPARATE = 5;

export class JobNotifier {
  /**
   * `showArray` brings an array's row into view (the notification's "Show");
   * `openCommand` opens a job's details.
   */
  constructor(
    private _model: JobsModel,
    private _commands: CommandRegistry,
    private _openCommand: string,
    private _showArray: (id: string) => void = () => undefined
  ) {
    this._model.changed.connect(this._onChanged, this);
    this._model.versionChanged.connect(this._onVersion, this);
  }

  dispose(): void {
    this._model.changed.disconnect(this._onChanged, this);
    this._model.versionChanged.disconnect(this._onVersion, this);
  }

  private _onChanged(): void {
    const me = this._model.me;
    if (!me || this._model.problem) {
      return;
    }
    this._jobsChanged(me.user);
    this._arraysChanged(me.user);
  }

  /** Active jobs of mine that disappeared from the active list have ended. */
  private _jobsChanged(user: string): void {
    const mineNow = this._model.allActive.filter(j => j.user === user);
    let ended = endedSince(this._myActive, mineNow);
    this._myActive = new Set(mineNow.map(j => j.id));
    // No job ended since the last look (the `ended` count did not move): those that left
    // the first page were held or overtaken. One that ended since is _onVersion's to report.
    const endedCount = this._model.topics?.ended ?? null;
    const noneEnded = endedCount !== null && endedCount === this._endedCount;
    this._endedCount = endedCount;
    if (noneEnded) {
      return;
    }
    if (ended.length > MAX_SEPARATE) {
      if (this._model.allActiveComplete) {
        // The whole queue was listed: they really ended (a bulk cancel, say). One
        // notification, not a flood of them (nor a request per job).
        for (const id of ended) {
          this._notified.set(id, Date.now() / 1000);
        }
        Notification.info(`${ended.length} of your jobs ended (see the Jobs panel).`, {
          autoClose: 6000
        });
        return;
      }
      // Only the first page of a long queue is listed: jobs also leave it when
      // others are queued before them. Look at a few; finished ones are also
      // found by _onVersion.
      ended = ended.slice(0, MAX_SEPARATE);
    }
    for (const id of ended) {
      void getJob(id).then(
        details => this._maybeNotify(details.job),
        () => undefined
      );
    }
  }

  /**
   * My arrays that left the list of active arrays (it holds them all) have
   * ended: one notification each, or one for all when many ended at once.
   */
  private _arraysChanged(user: string): void {
    const mineNow = new Set(this._model.allArrays.filter(a => a.user === user).map(a => a.id));
    const ended = [...this._myActiveArrays].filter(id => !mineNow.has(id));
    this._myActiveArrays = mineNow;
    if (ended.length > MAX_SEPARATE) {
      for (const id of ended) {
        this._notifiedArrays.set(id, Date.now() / 1000);
      }
      Notification.info(`${ended.length} of your arrays ended (see the Jobs panel).`, {
        autoClose: 6000
      });
      return;
    }
    for (const id of ended) {
      this._lookAtArray(id);
    }
  }

  /**
   * Read an array's row (no elements) and notify if it ended. `endedBy`: an element's end
   * seen (its array's end, if notified, is not earlier: no need to look).
   */
  private _lookAtArray(id: string, endedBy?: number | null): void {
    const known = endedBy !== undefined && notifiedFor(this._notifiedArrays, id, endedBy);
    if (known || this._lookingAt.has(id)) {
      return;
    }
    this._lookingAt.add(id);
    void getArray(id, 0, 0)
      .then(
        page => this._maybeNotifyArray(page.array),
        () => undefined
      )
      .finally(() => this._lookingAt.delete(id));
  }

  /**
   * Jobs that started and ended between two refreshes never show up as
   * active: look at my newest finished jobs whenever one ended. An element among
   * them stands for its array (one that was never seen active: a quick one).
   */
  private _onVersion(_: JobsModel, change: IQueueChange): void {
    if (change.moved && !change.moved.has('ended')) {
      return;
    }
    this._lookAtEnded();
  }

  /** My newest finished jobs: one look at a time; an ending seen meanwhile looks once more. */
  private _lookAtEnded(): void {
    const me = this._model.me;
    if (!me) {
      return;
    }
    if (this._checking) {
      this._checkAgain = true;
      return;
    }
    this._checking = true;
    this._checkAgain = false;
    void listJobs({ state: [...TERMINAL_STATES], mine: true, since: this._since, limit: 20 })
      .then(
        list => {
          for (const job of list.jobs) {
            if (job.array_id) {
              // An array last seen active is _arraysChanged's to report.
              if (!this._myActiveArrays.has(job.array_id)) {
                this._lookAtArray(job.array_id, job.finished_at);
              }
              continue;
            }
            // A job last seen active is _jobsChanged's to report (with the others that
            // ended in the same refresh), whichever answer comes first.
            if (!this._myActive.has(job.id)) {
              this._maybeNotify(job);
            }
          }
        },
        () => undefined
      )
      .finally(() => {
        this._checking = false;
        if (this._checkAgain) {
          this._lookAtEnded();
        }
      });
  }

  private _maybeNotify(job: IJobBase): void {
    const me = this._model.me;
    if (!me || job.user !== me.user || !isTerminal(job.state) || isActive(job.state)) {
      return;
    }
    if (notifiedFor(this._notified, job.id, job.finished_at)) {
      return;
    }
    // Only jobs that ended while this page was open.
    if (job.finished_at !== null && job.finished_at < this._since) {
      return;
    }
    this._notified.set(job.id, job.finished_at ?? Date.now() / 1000);
    Notification.emit(endMessage(job), TYPES[job.state] ?? 'info', {
      autoClose: job.state === 'completed' ? 6000 : false,
      actions: [
        {
          label: 'Show details',
          caption: `Open the details and log of ${job.id}`,
          callback: () => {
            void this._commands.execute(this._openCommand, { id: job.id });
          }
        }
      ]
    });
  }

  /** The notification of an array that ended while this page was open. */
  private _maybeNotifyArray(array: IArrayRow): void {
    const me = this._model.me;
    if (!me || array.user !== me.user || !isTerminal(array.state)) {
      return;
    }
    const known = notifiedFor(this._notifiedArrays, array.id, array.finished_at);
    if (known || this._myActiveArrays.has(array.id)) {
      return;
    }
    if (array.finished_at !== null && array.finished_at < this._since) {
      return;
    }
    this._notifiedArrays.set(array.id, array.finished_at ?? Date.now() / 1000);
    Notification.emit(arrayEndMessage(array), TYPES[array.state] ?? 'info', {
      autoClose: array.state === 'completed' ? 6000 : false,
      actions: [
        {
          label: 'Show',
          caption: `Show ${array.id} in the Jobs panel`,
          callback: () => this._showArray(array.id)
        }
      ]
    });
  }

  private _myActive = new Set<string>();
  /**
   * The end (finished_at) each job was notified for: a retried job that ends again is notified
   * again, while an older page that still shows it active (the long poll's page is read
   * before the list of my finished jobs) cannot make one end notified twice.
   */
  private _notified = new Map<string, number>();
  private _myActiveArrays = new Set<string>();
  /** The same for arrays. */
  private _notifiedArrays = new Map<string, number>();
  /** Arrays whose row is being read (so that each is read once at a time). */
  private _lookingAt = new Set<string>();
  private _checking = false;
  private _checkAgain = false;
  /** The `ended` count at the last look at my active jobs (null: not known). */
  private _endedCount: number | null = null;
  /** Page load time (epoch seconds), minus a little clock skew. */
  private _since = Date.now() / 1000 - 5;
}

/** Whether `id` was notified for an end at or after `finishedAt` (that end, or a later one). */
function notifiedFor(notified: Map<string, number>, id: string, finishedAt: number | null): boolean {
  const at = notified.get(id);
  return at !== undefined && (finishedAt === null || at >= finishedAt);
}
