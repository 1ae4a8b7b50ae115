/**
 * The live workers in the sidebar's dashboard: a line each
 * (`li.jm-worker[data-worker-id]`: host, slots in use, resources, heartbeat
 * age), kept by id and updated in place; a worker without a heartbeat is shown
 * in the warning style.
 */
import { type IWorkerStatus, workerText } from './dashboard_text';
import { keptRows, placeRow } from './keyed_rows';

/** Show `workers` in `list`; `elapsed`: seconds since the dashboard was read. */
export function renderWorkers(list: HTMLElement, workers: IWorkerStatus[], elapsed: number): void {
  const existing = keptRows(list, 'workerId', new Set(workers.map(w => w.id)));
  workers.forEach((worker, index) => {
    let row = existing.get(worker.id);
    if (!row) {
      row = document.createElement('li');
      row.className = 'jm-worker';
      row.dataset.workerId = worker.id;
    }
    showWorker(row, worker, worker.heartbeat_age + elapsed);
    placeRow(list, row, index);
  });
  if (workers.length === 0) {
    const li = document.createElement('li');
    li.className = 'jm-empty';
    li.textContent = 'No worker is running.';
    list.appendChild(li);
  }
}

function showWorker(row: HTMLElement, worker: IWorkerStatus, age: number): void {
  const text = workerText(worker, age);
  if (row.textContent !== text) {
    row.textContent = text;
  }
  row.dataset.host = worker.host;
  row.dataset.alive = worker.alive ? '1' : '0';
  row.classList.toggle('jm-mod-lost', !worker.alive);
  row.classList.toggle('jm-mod-draining', worker.draining);
  row.title = `${worker.id}: ${worker.user}, pid ${worker.pid}`;
}
