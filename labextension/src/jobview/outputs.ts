/**
 * A python job's captured outputs, rendered as JupyterLab renders a notebook's (text, images,
 * HTML, errors with their tracebacks) by its own OutputArea, appended live while the job runs.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import {
  type IRenderMimeRegistry,
  RenderMimeRegistry,
  standardRendererFactories
} from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { APIError, getJobOutputs } from '../api';
import { Follower, pauseMs } from './waker';

/** The registry of a page without JupyterLab's (a test page, a front end without the token). */
function standaloneRegistry(): IRenderMimeRegistry {
  return new RenderMimeRegistry({ initialFactories: standardRendererFactories });
}

export class OutputsSection extends Panel {
  /**
   * `state()` is the job's state as the view last read it. `rendermime` is JupyterLab's
   * (with the renderers of other extensions); outputs are untrusted: a queue's files are not
   * the user's own notebook, so HTML is sanitized and scripts do not run.
   */
  constructor(
    private readonly _jobId: string,
    private readonly _state: () => string | null,
    rendermime: IRenderMimeRegistry | null
  ) {
    super();
    this.addClass('jm-outputs');
    const head = new Widget();
    head.node.innerHTML =
      '<h3 class="jm-section-title">Outputs</h3>' +
      '<div class="jm-outputs-status" data-role="outputs-status">Waiting for outputs…</div>';
    this._head = head;
    this.addWidget(head);
    this._area = new OutputArea({
      model: this._model,
      rendermime: rendermime ?? standaloneRegistry()
    });
    this._area.addClass('jm-outputs-area');
    this.addWidget(this._area);
    this._follower.start();
  }

  /** Something changed in the queue: ask for new outputs now. */
  wake(): void {
    this._follower.wake();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    this._model.dispose();
    this._follower.wake();
  }

  /** Ask for the outputs after those held; the pause before asking again. */
  private async _step(): Promise<number | null> {
    const state = this._state();     // before the request: its answer is at least as new
    let done = false;
    try {
      const page = await getJobOutputs(this._jobId, this._next);
      if (this.isDisposed) {
        return null;
      }
      if (page.offset < this._next || page.next < this._next) {
        // The file was rewritten (a retry's new attempt): show it from its start.
        this._model.clear();
      }
      for (const output of page.outputs) {
        this._model.add(output as unknown as nbformat.IOutput);
      }
      this._next = page.next;
      done = page.done;
      this._showStatus(page.source, done);
      if (page.outputs.length > 0 && !done) {
        return 0;         // more may be waiting beyond this page
      }
    } catch (error) {
      this._status(error instanceof APIError ? `Cannot read its outputs: ${error.message}` : '');
    }
    return pauseMs(state, done, this.isVisible);
  }

  private _showStatus(source: string | null, done: boolean): void {
    const count = this._model.length;
    this.node.dataset.outputs = String(count);
    this.node.dataset.done = String(done);
    if (count === 0) {
      this._status(done ? 'This job displayed nothing.' : 'Waiting for outputs…');
    } else {
      this._status(source === 'log' ? 'From its log (it captured no rich outputs).' : '');
    }
  }

  private _status(text: string): void {
    const status = this._head.node.querySelector('.jm-outputs-status') as HTMLElement;
    status.textContent = text;
    status.style.display = text ? '' : 'none';
  }

  private _head: Widget;
  private _area: OutputArea;
  private _model = new OutputAreaModel({ trusted: false });
  private _next = 0;
  private _follower = new Follower(
    () => this._step(),
    () => !this.isDisposed
  );
}
