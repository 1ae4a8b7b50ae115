/**
 * How the job view's live sections wait: until the queue changes (the sidebar model's
 * change signal, pushed by the server's long poll wakes them) or a slow fallback elapses.
 */

/** The fallback while a job runs: its data and outputs grow without the database moving. */
export const FALLBACK_MS_VISIBLE = 1000;
export const FALLBACK_MS_HIDDEN = 5000;

export class Waker {
  /** Resolves when woken, or after `ms` (never, for null). */
  sleep(ms: number | null): Promise<void> {
    const woken = new Promise<void>(resolve => {
      this._wakeUp = resolve;
    });
    if (ms === null) {
      return woken;
    }
    let timer = 0;
    const slept = new Promise<void>(resolve => {
      timer = window.setTimeout(resolve, ms);
    });
    return Promise.race([woken, slept]).finally(() => window.clearTimeout(timer));
  }

  wake(): void {
    const wake = this._wakeUp;
    this._wakeUp = null;
    if (wake) {
      wake();
    }
  }

  private _wakeUp: (() => void) | null = null;
}

/**
 * A live section's loop: `step()` reads once and says how long to pause before the next
 * read (0: read on at once; null: until woken). It ends once `alive()` is false; a
 * disposed section calls `wake()` so that a pause ends at once.
 */
export class Follower {
  constructor(
    private readonly _step: () => Promise<number | null>,
    private readonly _alive: () => boolean
  ) {}

  /** Begin (once the section is built: the first step runs now). */
  start(): void {
    void this._run();
  }

  /** Something changed in the queue: end the pause now. */
  wake(): void {
    this._waker.wake();
  }

  private async _run(): Promise<void> {
    while (this._alive()) {
      const pause = await this._step();
      if (pause !== 0 && this._alive()) {
        await this._waker.sleep(pause);
      }
    }
  }

  private _waker = new Waker();
}

/**
 * How long a live section sleeps before it asks again (null: until woken). A queued job has
 * nothing to read and its start is a queue change; an ended one, once read to its end, waits
 * for a retry (a change too). `state` is null before the job's details came.
 */
export function pauseMs(state: string | null, readAll: boolean, visible: boolean): number | null {
  if (state === 'waiting' || state === 'pending') {
    return null;
  }
  if (state !== null && state !== 'running' && readAll) {
    return null;
  }
  return fallbackMs(visible);
}

/** The fallback of a section: slower while it cannot be seen. */
export function fallbackMs(visible: boolean): number {
  const hidden = typeof document !== 'undefined' && document.hidden;
  return !hidden && visible ? FALLBACK_MS_VISIBLE : FALLBACK_MS_HIDDEN;
}
