/**
 * Tells a notebook's kernel when the outputs showing live jobmagics widgets are gone (the user
 * cleared a cell's or every cell's outputs, or re-ran the cell), so the widgets' background
 * work stops: `{"closed": [model_id, ...]}` on a comm with target `jobmagics.views`, one comm
 * per kernel, opened only when there is something to say.
 */
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IOutputAreaModel } from '@jupyterlab/outputarea';
import type { Kernel } from '@jupyterlab/services';

export const VIEWS_TARGET = 'jobmagics.views';
const WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json';

/** The model ids of the live jobmagics widgets among some nbformat outputs. */
export function liveModelIds(outputs: readonly unknown[]): string[] {
  const ids: string[] = [];
  for (const output of outputs) {
    const { data, metadata } = (output ?? {}) as {
      data?: Record<string, unknown>;
      metadata?: Record<string, unknown>;
    };
    const mark = metadata?.jobmagics as { live?: unknown } | undefined;
    const view = data?.[WIDGET_VIEW] as { model_id?: unknown } | undefined;
    if (mark?.live === true && typeof view?.model_id === 'string') {
      ids.push(view.model_id);
    }
  }
  return ids;
}

/** The ids shown before and no longer. */
export function goneIds(before: ReadonlySet<string>, now: ReadonlySet<string>): string[] {
  return [...before].filter(id => !now.has(id));
}

function outputsOf(area: IOutputAreaModel): unknown[] {
  const values: unknown[] = [];
  for (let i = 0; i < area.length; i++) {
    values.push(area.get(i).toJSON());
  }
  return values;
}

export class OutputsClearedWatcher {
  constructor(tracker: INotebookTracker) {
    tracker.widgetAdded.connect((_, panel) => this._watchPanel(panel));
    tracker.forEach(panel => {
      this._watchPanel(panel);
    });
  }

  private _watchPanel(panel: NotebookPanel): void {
    const watchCells = () => {
      const cells = panel.content.model?.cells;
      if (!cells) {
        return;
      }
      for (const cell of cells) {
        this._watchCell(panel, cell);
      }
      if (this._lists.has(cells)) {
        return;
      }
      this._lists.add(cells);
      cells.changed.connect((_, change) => {
        if (change.type === 'add') {
          for (const cell of change.newValues) {
            this._watchCell(panel, cell);
          }
        }
      });
    };
    panel.content.modelChanged.connect(watchCells);
    watchCells();
  }

  private _watchCell(panel: NotebookPanel, cell: ICellModel): void {
    if (cell.type !== 'code' || this._watched.has(cell)) {
      return;
    }
    this._watched.add(cell);
    const area = (cell as ICodeCellModel).outputs;
    let shown = new Set(liveModelIds(outputsOf(area)));
    area.changed.connect(() => {
      const now = new Set(liveModelIds(outputsOf(area)));
      const gone = goneIds(shown, now);
      shown = now;
      if (gone.length) {
        this._tell(panel, gone);
      }
    });
  }

  /** Send the closed ids to the panel's kernel (nothing when it has none or refused). */
  private _tell(panel: NotebookPanel, ids: string[]): void {
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel?.handleComms || this._refused.has(kernel)) {
      return;
    }
    try {
      this._commOf(kernel).send({ closed: ids });
    } catch (error) {
      console.warn('jobmagics: could not tell the kernel of closed views', error);
    }
  }

  private _commOf(kernel: Kernel.IKernelConnection): Kernel.IComm {
    const open = this._comms.get(kernel);
    if (open && !open.isDisposed) {
      return open;
    }
    const comm = kernel.createComm(VIEWS_TARGET);
    comm.onClose = () => {
      // A kernel without the target closes the comm at once: do not ask it again until it
      // restarts (a restart may bring a jobmagics that has it).
      this._comms.delete(kernel);
      this._refused.add(kernel);
      kernel.statusChanged.connect(this._onStatus, this);
    };
    comm.open({});
    this._comms.set(kernel, comm);
    return comm;
  }

  private _onStatus(kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      this._refused.delete(kernel);
      this._comms.delete(kernel);
      kernel.statusChanged.disconnect(this._onStatus, this);
    }
  }

  private _watched = new WeakSet<ICellModel>();
  private _lists = new WeakSet<object>();
  private _comms = new WeakMap<Kernel.IKernelConnection, Kernel.IComm>();
  private _refused = new WeakSet<Kernel.IKernelConnection>();
}
