/**
 * The job's log, tailed live: new bytes fetched from the last offset until the job is over
 * (and again when a retry makes it active).
 */
import { Widget } from '@lumino/widgets';

import { getLog } from '../api';
import { formatBytes } from '../format';
import { Follower } from './waker';

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
    this._followBox = this.node.querySelector('.jm-follow input') as HTMLInputElement;
    this._follower.start();
  }

  /** Something changed in the queue: look at the log now. */
  wake(): void {
    this._follower.wake();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    this._follower.wake();
  }

  /**
   * Fetch the bytes after the last offset; the pause before fetching again. Once the job
   * is over, until woken: a retry makes it write again.
   */
  private async _step(): Promise<number | null> {
    if (this.node.dataset.logDone === 'true' && this._active()) {
      this.node.dataset.logDone = 'false';
    }
    let full = false;
    try {
      const chunk = await getLog(this._jobId, this._offset);
      if (this.isDisposed) {
        return null;
      }
      if (this._offset < 0 && chunk.size > INITIAL_TAIL) {
        this._append(`… (${formatBytes(chunk.size - INITIAL_TAIL)} of earlier output not shown)\n`);
      }
      full = chunk.text.length > 0 && chunk.offset < chunk.size;
      this._offset = chunk.offset;
      if (chunk.text) {
        this._append(chunk.text);
      }
      (this.node.querySelector('.jm-log-size') as HTMLElement).textContent = formatBytes(
        chunk.size
      );
      if (chunk.done && !full) {
        this.node.dataset.logDone = 'true';
        return null;
      }
    } catch {
      // Keep trying: the server may be restarting.
    }
    if (full) {
      return 0;
    }
    return document.hidden || !this.isVisible ? TAIL_MS_HIDDEN : TAIL_MS_VISIBLE;
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
    if (this._followBox.checked && atBottom) {
      log.scrollTop = log.scrollHeight;
    }
  }

  private _log: HTMLElement;
  private _followBox: HTMLInputElement;
  private _chars = 0;
  /** Where the next fetch starts (negative at first: that many bytes from the end). */
  private _offset = -INITIAL_TAIL;
  private _follower = new Follower(
    () => this._step(),
    () => !this.isDisposed
  );
}
