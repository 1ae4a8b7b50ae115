/**
 * The live workers in the sidebar's dashboard: a line each
 * (`li.jm-worker[data-worker-id]`: host, slots in use, resources, heartbeat
 * age), kept by id and updated in place; a worker without a heartbeat is shown
 * in the warning style.
 */
import { type IWorkerStatus, workerText } from './dashboard_text';

/** Show `workers` in `list`; `elapsed`: seconds since the dashboard was read. */
export function renderWorkers(list: HTMLElement, workers: IWorkerStatus[], elapsed: number): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of Array.from(list.children) as HTMLElement[]) {
    if (child.dataset.workerId) {
      existing.set(child.dataset.workerId, child);
    } else {
      child.remove();
    }
  }
  const wanted = new Set(workers.map(w => w.id));
  for (const [id, row] of existing) {
    if (!wanted.has(id)) {
      row.remove();
    }
  }
  let before: Element | null = null;
  for (const worker of workers) {
    let row = existing.get(worker.id);
    if (!row) {
      row = document.createElement('li');
      row.className = 'jm-worker';
      row.dataset.workerId = worker.id;
    }
    showWorker(row, worker, worker.heartbeat_age + elapsed);
    const at: Element | null = before ? before.nextElementSibling : list.firstElementChild;
    if (at !== row) {
      list.insertBefore(row, at);
    }
    before = row;
  }
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
