/**
 * The lab's dashboard as the server answers it (`GET /jobmagics/api/dashboard`)
 * and the words the sidebar shows for it: a header per resource, the queue's
 * state, each worker's line, the heartbeat's age. Pure module (no JupyterLab
 * imports), unit-tested with `node --test`.
 */
import { formatDuration } from './format';

/** A job as the dashboard names it. */
export interface IDashboardJob {
  id: string;
  name: string | null;
  user: string;
}

export interface IRunningJob extends IDashboardJob {
  started_at: number | null;
  progress: number | null;
}

export interface INextJob extends IDashboardJob {
  priority: number;
  resources: Record<string, number> | string[] | null;
}

export interface IResourceStatus {
  name: string;
  capacity: number;
  in_use: number;
  paused: boolean;
  running: IRunningJob[];
  waiting: number;
  next: IDashboardJob | null;
}

export interface IQueueStatus {
  running: number;
  pending: number;
  waiting: number;
  next: INextJob[];
  stored: number;
}

export interface IWorkerStatus {
  id: string;
  host: string;
  user: string;
  pid: number;
  slots: number;
  slots_in_use: number;
  /** The resources it serves (by name, with their units). */
  resources: Record<string, number> | string[];
  /** Seconds since its last heartbeat when the dashboard was read. */
  heartbeat_age: number;
  alive: boolean;
  draining: boolean;
}

/** "hardware, gpu×2": resources by name, with their units when more than one. */
export function resourceNames(resources: Record<string, number> | string[] | null): string {
  if (!resources) {
    return '';
  }
  if (Array.isArray(resources)) {
    return resources.join(', ');
  }
  return Object.entries(resources)
    .map(([name, units]) => (units > 1 ? `${name}×${units}` : name))
    .join(', ');
}

export interface IDashboard {
  version: number;
  /** The whole queue is paused: no worker starts anything. */
  paused: boolean;
  /** The caller may pause and resume (a queue admin). */
  may_pause: boolean;
  resources: IResourceStatus[];
  queue: IQueueStatus;
  workers: IWorkerStatus[];
  /** Sentences the lab should see ("no live worker serves gpu: 3 jobs wait for it"). */
  warnings: string[];
}

const COUNT = new Intl.NumberFormat('en-US');

/** "JOB-... rabi (alice)", or "JOB-... (alice)" without a name. */
export function jobText(job: IDashboardJob): string {
  return job.name ? `${job.id} ${job.name} (${job.user})` : `${job.id} (${job.user})`;
}

/** Running jobs named in a header before "+N more". */
const NAMED_RUNNING = 2;

/**
 * A resource's header: "hardware: running JOB-... rabi (alice), 3 waiting · active";
 * "gpu 2/4: running A (alice), B (bob), 0 waiting · paused"; "idle" when nothing runs.
 */
export function resourceHeaderText(r: IResourceStatus): string {
  const units = r.capacity > 1 ? ` ${r.in_use}/${r.capacity}` : '';
  let running = 'idle';
  if (r.running.length > 0) {
    const named = r.running.slice(0, NAMED_RUNNING).map(jobText).join(', ');
    const more = r.running.length - NAMED_RUNNING;
    running = `running ${named}${more > 0 ? ` +${more} more` : ''}`;
  }
  const state = r.paused ? 'paused' : 'active';
  return `${r.name}${units}: ${running}, ${COUNT.format(r.waiting)} waiting · ${state}`;
}

/** The whole queue: "Queue: 1 running, 3 pending, 2 waiting · active" (stored on hover). */
export function queueStateText(d: IDashboard): string {
  const q = d.queue;
  const counts = `${COUNT.format(q.running)} running, ${COUNT.format(q.pending)} pending, ${COUNT.format(q.waiting)} waiting`;
  return `Queue: ${counts} · ${d.paused ? 'paused' : 'active'}`;
}

/** "3 s ago", "2m 05s ago", "just now": the age of a heartbeat, in whole seconds under a minute. */
export function heartbeatText(ageSeconds: number): string {
  if (!Number.isFinite(ageSeconds) || ageSeconds < 1) {
    return 'just now';
  }
  if (ageSeconds < 60) {
    return `${Math.floor(ageSeconds)} s ago`;
  }
  return `${formatDuration(ageSeconds)} ago`;
}

/** A worker's line: "host · 1/2 slots · hardware · 3 s ago" (+ " · draining" / " · lost"). */
export function workerText(w: IWorkerStatus, ageSeconds: number): string {
  const parts = [w.host, `${w.slots_in_use}/${w.slots} slots`];
  const resources = resourceNames(w.resources);
  if (resources) {
    parts.push(resources);
  }
  parts.push(w.alive ? heartbeatText(ageSeconds) : `no heartbeat for ${heartbeatText(ageSeconds).replace(' ago', '')}`);
  if (w.draining) {
    parts.push('draining');
  }
  return parts.join(' · ');
}

/** The title of a pause/resume button: what it does, or why it is not offered. */
export function pauseTitle(what: string, paused: boolean, mayPause: boolean): string {
  if (!mayPause) {
    return `Only a queue admin may ${paused ? 'resume' : 'pause'} ${what}`;
  }
  return paused
    ? `Resume ${what}: workers start its jobs again`
    : `Pause ${what}: workers start none of its jobs (running ones go on)`;
}

/** A job of "what runs next": "JOB-... fit (alice) · P5 · hardware". */
export function nextText(job: INextJob): string {
  const parts = [jobText(job)];
  if (job.priority) {
    parts.push(`P${job.priority}`);
  }
  const resources = resourceNames(job.resources);
  if (resources) {
    parts.push(resources);
  }
  return parts.join(' · ');
}
