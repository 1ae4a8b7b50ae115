/**
 * A job row's edits while the job has not started: a "move to top" button
 * (next to start among the jobs of its priority) and its priority, which its
 * owner or a queue admin clicks to change (type, Enter; Escape leaves it).
 * Clicks and keys here stop at the row, so they never open the job.
 */
import { Notification } from '@jupyterlab/apputils';
import { moveUpIcon } from '@jupyterlab/ui-components';

import { moveJob, updateJob } from './api';
import type { IJobBase } from './api';
import type { IRowButton } from './row_actions';

/** The button and the priority a row made by `createJobRow` holds. */
function parts(row: HTMLElement): { top: HTMLButtonElement; priority: HTMLElement } {
  return {
    top: row.querySelector('[data-edit="top"]') as HTMLButtonElement,
    priority: row.querySelector('[data-edit="priority"]') as HTMLElement
  };
}

/** The markup of the "move to top" button (inside the row's actions). */
export const MOVE_TOP_BUTTON =
  '<button class="jm-icon-button jp-Button jp-mod-minimal" data-edit="top" title="Move to top"></button>';

/** The markup of the priority (in the row's third line). */
export const PRIORITY_LABEL = '<span class="jm-priority" data-edit="priority"></span>';

/** Wire the edits of a new row (once, when it is made). */
export function wireEdits(row: HTMLElement): void {
  const { top, priority } = parts(row);
  moveUpIcon.element({ container: top });
  top.addEventListener('click', event => {
    event.stopPropagation();
    if (!top.disabled) {
      void moveToTop(row, top);
    }
  });
  priority.addEventListener('click', event => {
    event.stopPropagation();
    if (row.dataset.editable === '1' && !row.classList.contains('jm-mod-editing')) {
      startEditing(row, priority);
    }
  });
}

/** Show `job`'s edits as the row's buttons say (`rowButtons`: move to top, edit). */
export function updateEdits(
  row: HTMLElement,
  job: IJobBase,
  move: IRowButton,
  edit: IRowButton
): void {
  const { top, priority } = parts(row);
  const editable = edit.shown && edit.enabled;
  row.dataset.editable = editable ? '1' : '0';
  top.style.display = move.shown ? '' : 'none';
  top.disabled = !move.enabled;
  top.title = move.enabled
    ? `Move ${job.id} to the top: next to start among priority ${job.priority}`
    : move.title;
  if (row.classList.contains('jm-mod-editing')) {
    return; // the user is typing a new priority: the next refresh after it shows it
  }
  priority.textContent = `P${job.priority}`;
  priority.dataset.priority = String(job.priority);
  priority.style.cursor = editable ? 'pointer' : '';
  priority.style.textDecoration = editable ? 'underline dotted' : '';
  priority.title = editable
    ? `Priority ${job.priority} (higher starts first): click to change`
    : `Priority ${job.priority}`;
}

async function moveToTop(row: HTMLElement, button: HTMLButtonElement): Promise<void> {
  const id = row.dataset.jobId!;
  button.disabled = true;
  try {
    await moveJob(id, { top: true });
  } catch (error) {
    Notification.error(`Could not move ${id}: ${(error as Error).message}`, {
      autoClose: 8000
    });
    button.disabled = false;
  }
}

function startEditing(row: HTMLElement, label: HTMLElement): void {
  const input = document.createElement('input');
  input.type = 'number';
  input.step = '1';
  input.className = 'jm-priority-input';
  input.value = label.dataset.priority ?? '0';
  input.style.width = '5em';
  input.setAttribute('aria-label', `Priority of ${row.dataset.jobId}`);
  row.classList.add('jm-mod-editing');
  label.style.display = 'none';
  label.after(input);
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      input.remove();
      label.style.display = '';
      row.classList.remove('jm-mod-editing');
    }
  };
  input.addEventListener('click', event => event.stopPropagation());
  input.addEventListener('blur', finish);
  input.addEventListener('keydown', event => {
    event.stopPropagation();
    if (event.key === 'Escape') {
      finish();
    } else if (event.key === 'Enter') {
      void commit(row, input, label).finally(finish);
    }
  });
  input.focus();
  input.select();
}

async function commit(
  row: HTMLElement,
  input: HTMLInputElement,
  label: HTMLElement
): Promise<void> {
  const id = row.dataset.jobId!;
  const value = Number(input.value);
  if (!Number.isInteger(value)) {
    Notification.error(`A priority is a whole number, not "${input.value}"`, { autoClose: 5000 });
    return;
  }
  if (String(value) === label.dataset.priority) {
    return;
  }
  input.disabled = true;
  try {
    const job = await updateJob(id, { priority: value });
    label.textContent = `P${job.priority}`;
    label.dataset.priority = String(job.priority);
  } catch (error) {
    Notification.error(`Could not change the priority of ${id}: ${(error as Error).message}`, {
      autoClose: 8000
    });
  }
}
