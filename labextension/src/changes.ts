/**
 * Waiting for the queue to move: the long poll `changes`, and what moved.
 *
 * The server answers a long poll as soon as the queue's version moves (or a
 * worker died); each answer, and each page a refresh reads, carries the
 * version and the count of each topic (`ChangeTopic`: `ended`, `schedules`).
 * `ChangeWaiter` keeps the last of them and says, once per new version, which
 * topics moved: a part of the sidebar reads again only when its own did.
 * Without the route (an older server, a proxy cutting long requests) it
 * falls back to a plain poll about once a second, backing off while the tab
 * is hidden.
 */
import { type ISignal, Signal } from '@lumino/signaling';

import { APIError, type IQueueOptions, type IQueuePage, waitForChange } from './api';
import { nextPollDelay } from './format';
import type { ChangeTopic } from './generated/job';
import { type ChangeCounts, movedTopics } from './topics';

/** The queue moved: its new version and which parts of the sidebar moved with it. */
export interface IQueueChange {
  version: number;
  /** The topics that moved since the version before; null: not known (read everything). */
  moved: ReadonlySet<ChangeTopic> | null;
}

/** Long-poll duration asked of the server (seconds). */
const LONG_POLL_S = 25;
/**
 * ... while a job runs: its worker may die, which commits nothing. The server
 * answers a long poll when a worker dies during it; this bounds the rest (a
 * death between a refresh and the next poll).
 */
const RUNNING_LONG_POLL_S = 5;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

export class ChangeWaiter {
  constructor() {
    this._onVisibility = () => {
      if (!document.hidden) {
        this._idleRounds = 0;
        this.wake();
      }
    };
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** Emitted once per new version, with the topics that moved. */
  get changed(): ISignal<this, IQueueChange> {
    return this._changed;
  }

  /** Each topic's count as last seen (null: not known, e.g. from an older server). */
  get topics(): ChangeCounts | null {
    return this._topics;
  }

  /** A version (and its topics) seen in an answer: emits `changed` if it is new. */
  note(version: number, topics: ChangeCounts | undefined): void {
    if (version === this._version) {
      return;
    }
    const now = topics ?? null;
    const moved = movedTopics(this._topics, now);
    this._version = version;
    this._topics = now;
    this._changed.emit({ version, moved });
  }

  /**
   * The page the last long poll brought (asked for with `include`), once: null
   * when the wait ended otherwise (a wake-up, a timer, an older server).
   */
  takePage(): IQueuePage | null {
    const page = this._page;
    this._page = null;
    return page;
  }

  /**
   * Until the next refresh is due: the long poll answered (the queue moved),
   * `wake()` was called (filter changed, tab shown, user action), or the
   * poll timer ran out. `running`: a job runs (poll for dead workers sooner).
   * `include`: the queue page the answer should bring (`takePage`).
   */
  async wait(lastOk: boolean, running: boolean, include?: IQueueOptions): Promise<void> {
    this._page = null;
    if (this._wokenEarly) {
      this._wokenEarly = false; // woken while the refresh ran (a filter changed): refresh again
      return;
    }
    const woken = new Promise<void>(resolve => {
      this._wakeUp = resolve;
    });
    const hidden = document.hidden;
    if (!lastOk || hidden || !this._longPollWorks) {
      this._idleRounds = hidden ? this._idleRounds + 1 : 0;
      const delay = lastOk
        ? nextPollDelay(hidden, this._idleRounds)
        : nextPollDelay(hidden, this._idleRounds, 2000);
      await Promise.race([sleep(delay), woken]);
      this._wakeUp = null; // from now on a wake-up is for the next wait
      return;
    }
    this._idleRounds = 0;
    const abort = new AbortController();
    const timeout = running ? RUNNING_LONG_POLL_S : LONG_POLL_S;
    const answered = waitForChange(this._version, timeout, abort.signal, include).then(
      reply => {
        if (abort.signal.aborted) {
          return; // woken meanwhile: the refresh reads for itself
        }
        this.note(reply.version, reply.topics);
        this._page = reply.queue ?? null;
      },
      async (error: unknown) => {
        if (abort.signal.aborted) {
          return;
        }
        // An old server without the route, or a proxy cutting long requests:
        // fall back to polling about once a second.
        if (error instanceof APIError && (error.status === 404 || error.status === 400)) {
          this._longPollWorks = false;
        }
        await sleep(1000);
      }
    );
    await Promise.race([answered, woken]);
    this._wakeUp = null; // from now on a wake-up is for the next wait
    // Never leave a long poll hanging: it would hold one of the browser's
    // few connections to the server.
    abort.abort();
  }

  /**
   * End the current wait now (the refresh then reads for itself); called while no wait is
   * under way (a refresh runs), the next wait ends at once: no wake-up is lost.
   */
  wake(): void {
    this._page = null;
    const wake = this._wakeUp;
    this._wakeUp = null;
    if (wake) {
      wake();
    } else {
      this._wokenEarly = true;
    }
  }

  dispose(): void {
    document.removeEventListener('visibilitychange', this._onVisibility);
    this.wake();
    Signal.clearData(this);
  }

  private _version = -1;
  private _topics: ChangeCounts | null = null;
  private _page: IQueuePage | null = null;
  private _longPollWorks = true;
  private _idleRounds = 0;
  private _wakeUp: (() => void) | null = null;
  private _wokenEarly = false;
  private _onVisibility: () => void;
  private _changed = new Signal<this, IQueueChange>(this);
}
