/**
 * The job's log, tailed live: new bytes fetched from the last offset until the job is over
 * (and again when a retry makes it active).
 */
import { Widget } from '@lumino/widgets';

import { getLog } from '../api';
import { formatBytes } from '../format';
import { Waker } from './waker';

/** How much of a long log to show when the view opens (bytes from the end). */
const INITIAL_TAIL = 256 * 1024;
/** Keep at most this many characters in the DOM. */
const MAX_CHARS = 2 * 1024 * 1024;
const TAIL_MS_VISIBLE = 500;
const TAIL_MS_HIDDEN = 3000;

export class LogSection extends Widget {
  /** `active()` says whether the job may still write (not in a terminal state). */
  constructor(
    private readonly _jobId: string,
    private readonly _active: () => boolean
  ) {
    super();
    this.addClass('jm-log-section');
    this.node.innerHTML =
      '<div class="jm-log-header"><span>Log</span><span class="jm-log-size"></span>' +
      '<label class="jm-follow"><input type="checkbox" checked> Follow</label></div>' +
      '<pre class="jm-log" data-role="log"></pre>';
    this._log = this.node.querySelector('.jm-log') as HTMLElement;
    this._follow = this.node.querySelector('.jm-follow input') as HTMLInputElement;
    void this._tail();
  }

  /** Something changed in the queue: look at the log now. */
  wake(): void {
    this._waker.wake();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    this._waker.wake();
  }

  /** Follow the log: fetch new bytes from the last offset until the job is over. */
  private async _tail(): Promise<void> {
    let offset = -INITIAL_TAIL;
    let first = true;
    while (!this.isDisposed) {
      let done = false;
      let full = false;
      try {
        const chunk = await getLog(this._jobId, offset);
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
        await this._waker.sleep(null);
        if (this._active()) {
          this.node.dataset.logDone = 'false';
        }
        continue;
      }
      if (!full) {
        const hidden = document.hidden || !this.isVisible;
        await this._waker.sleep(hidden ? TAIL_MS_HIDDEN : TAIL_MS_VISIBLE);
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

  private _log: HTMLElement;
  private _follow: HTMLInputElement;
  private _chars = 0;
  private _waker = new Waker();
}
