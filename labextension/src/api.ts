/**
 * The REST API of the jobmagics server extension (`/jobmagics/api/...`):
 * one typed request helper and thin wrappers around it.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IJob, IJobRow, ISubmitSpec, JobState } from './generated/job';
import type { ChangeCounts } from './topics';
import type { IDashboard } from './dashboard_text';

// A job's fields are generated from their Python declaration (`python -m jobmagics.typescript`).
export type {
  IJob,
  IJobBase,
  IJobOptions,
  IJobRow,
  ISubmitSpec,
  JobState
} from './generated/job';

export interface IEvent {
  at: number;
  state: string;
  detail: string | null;
}

export interface IJobList {
  jobs: IJobRow[];
  total: number;
  limit: number;
  offset: number;
  user: string;
  version: number;
}

/**
 * An array as one row: N element jobs sharing one id, counted per state
 * (`ArrayRecord.to_dict()` on the server, plus whether I may act on it).
 */
export interface IArrayRow {
  id: string;
  user: string;
  host: string;
  name: string | null;
  /** The kind of its elements: command, python, function or experiment. */
  kind: string;
  backend: string;
  /** How many elements it has. */
  size: number;
  /** At most this many elements run at once (null: no limit). */
  parallel: number | null;
  submitted_at: number;
  /** The first element's start. */
  started_at: number | null;
  /** The last element's end, once every element ended. */
  finished_at: number | null;
  /** Elements per state (every state, zeros included). */
  counts: Record<string, number>;
  /** Running while any element runs; once all ended, completed, failed or cancelled. */
  state: JobState;
  /** The fraction of elements that ended. */
  progress: number;
  array: true;
  /** The current user may cancel or retry it (its owner, or a queue admin). */
  can_act: boolean;
}

export interface IArrayList {
  arrays: IArrayRow[];
  limit: number;
  active: boolean;
  user: string;
  version: number;
}

/** One array and a page of its elements, by index. */
export interface IArrayPage {
  array: IArrayRow;
  elements: IJobRow[];
  offset: number;
  limit: number;
  /** Its elements (of the states asked for). */
  total: number;
  /** Elements after this page. */
  more: number;
}

/** One page of the active queue, in the order the jobs will start. */
export interface IQueuePage {
  /** Jobs that are no array's elements (the arrays are rows of their own). */
  jobs: IJobRow[];
  /** The active arrays, one row each (absent from an older server). */
  arrays?: IArrayRow[];
  /** Active jobs per state ("running", "pending", "waiting"), page or not. */
  counts: Record<string, number>;
  total: number;
  /** Jobs after this page. */
  more: number;
  limit: number;
  offset: number;
  user: string;
  version: number;
  /** Each part of the sidebar's own count (absent from an older server): see IChanges. */
  topics?: ChangeCounts;
}

export interface IJobDetails {
  job: IJob;
  events: IEvent[];
  can_act: boolean;
}

export interface ILogChunk {
  text: string;
  offset: number;
  size: number;
  done: boolean;
}

export interface IWhoAmI {
  user: string;
  admin: boolean;
  queue: string;
}

export interface IChanges {
  version: number;
  /** Each topic's count: a part reads again only when its own moved (absent: older server). */
  topics?: ChangeCounts;
  changed: boolean;
  /** A worker died (or started) during the poll: running jobs may read "worker lost". */
  workers_changed?: boolean;
  /** The page asked for with `include`, read after the change (changed answers only). */
  queue?: IQueuePage;
}

export type JobAction = 'cancel' | 'retry' | 'hold' | 'release';

/** The most rows one request may ask for (the server's MAX_LIMIT). */
export const MAX_PAGE = 1000;

/** An error answered by the server extension (or the lack of it). */
export class APIError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string = ''
  ) {
    super(message);
    this.name = 'APIError';
  }

  /** The server has no jobmagics extension (404 on a route that must exist). */
  get missingExtension(): boolean {
    return this.status === 404 && this.type === '';
  }

  /** The queue is unreadable or busy (503 from the extension). */
  get queueUnavailable(): boolean {
    return this.status === 503;
  }

  /** Another process holds the queue's write lock: trying again soon may work. */
  get busy(): boolean {
    return this.status === 503 && this.type === 'QueueBusy';
  }

  /** The server could not be reached at all. */
  get network(): boolean {
    return this.status === 0;
  }
}

/**
 * Call a route under `/jobmagics/api/`. Resolves with the parsed JSON;
 * rejects with `APIError` (status 0 for network errors).
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'jobmagics', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new APIError(`cannot reach the Jupyter server: ${error}`, 0);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const problem = (data ?? {}) as { error?: string; message?: string; type?: string };
    const message =
      problem.error || problem.message || response.statusText || `HTTP ${response.status}`;
    throw new APIError(message, response.status, problem.type || '');
  }
  return data as T;
}

function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '' || value === false) {
      continue;
    }
    const v = value === true ? '1' : String(value);
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export interface IListOptions {
  state?: string[] | null;
  user?: string;
  mine?: boolean;
  name?: string;
  since?: number;
  limit?: number;
  offset?: number;
  /**
   * False: leave the elements of arrays out of the page and its total (an
   * array is a row of its own). Listed by default, as the server does.
   */
  elements?: boolean;
}

export function listJobs(options: IListOptions = {}): Promise<IJobList> {
  return requestAPI<IJobList>(
    'jobs' +
      query({
        state: options.state ? options.state.join(',') : null,
        user: options.user,
        mine: options.mine,
        name: options.name,
        since: options.since,
        limit: options.limit,
        offset: options.offset,
        elements: options.elements === false ? '0' : null
      })
  );
}

export interface IQueueOptions {
  user?: string;
  mine?: boolean;
  limit?: number;
  offset?: number;
}

function queueQuery(options: IQueueOptions): Record<string, string | number | boolean | undefined> {
  return { user: options.user, mine: options.mine, limit: options.limit, offset: options.offset };
}

/** The active jobs (running, pending, waiting) in start order, one page. */
export function listQueue(options: IQueueOptions = {}): Promise<IQueuePage> {
  return requestAPI<IQueuePage>(`queue${query(queueQuery(options))}`);
}

export function getJob(id: string): Promise<IJobDetails> {
  return requestAPI<IJobDetails>(`jobs/${encodeURIComponent(id)}`);
}

export function getLog(id: string, offset: number): Promise<ILogChunk> {
  return requestAPI<ILogChunk>(`jobs/${encodeURIComponent(id)}/log${query({ offset })}`);
}

export function whoami(): Promise<IWhoAmI> {
  return requestAPI<IWhoAmI>('whoami');
}

/**
 * The long poll: answers when the queue moved from `version` (or after `timeout`
 * seconds). `include`: the page of `listQueue(include)` read after the change
 * comes with a changed answer (`queue`), so that it needs no request of its own.
 */
export function waitForChange(
  version: number,
  timeout: number,
  signal?: AbortSignal,
  include?: IQueueOptions
): Promise<IChanges> {
  const page = include ? { include: 'queue', ...queueQuery(include) } : {};
  return requestAPI<IChanges>(`changes${query({ version, timeout, ...page })}`, { signal });
}

export async function submitJob(spec: ISubmitSpec): Promise<IJobRow> {
  const reply = await requestAPI<{ job: IJobRow }>('jobs', {
    method: 'POST',
    body: JSON.stringify(spec)
  });
  return reply.job;
}

export async function actOnJob(id: string, action: JobAction): Promise<IJobRow> {
  const reply = await requestAPI<{ job: IJobRow }>(
    `jobs/${encodeURIComponent(id)}/${action}`,
    { method: 'POST', body: '{}' }
  );
  return reply.job;
}

/**
 * One action on several jobs, all or none: the server checks every id before
 * it changes any, and rejects with the first problem (naming its job).
 */
export async function actOnJobs(action: JobAction, ids: string[]): Promise<IJobRow[]> {
  const reply = await requestAPI<{ action: JobAction; jobs: IJobRow[] }>('jobs/actions', {
    method: 'POST',
    body: JSON.stringify({ action, ids })
  });
  return reply.jobs;
}

export interface IArraysOptions {
  /** Only arrays with an element not ended (the default), or all of them. */
  active?: boolean;
  user?: string;
  mine?: boolean;
  limit?: number;
}

/** Arrays, newest first, one row each. */
export function listArrays(options: IArraysOptions = {}): Promise<IArrayList> {
  return requestAPI<IArrayList>(
    'arrays' +
      query({
        active: options.active === false ? '0' : null,
        user: options.user,
        mine: options.mine,
        limit: options.limit
      })
  );
}

/**
 * An array and `limit` of its elements from `offset`, by index (only those in
 * `states`, when given).
 */
export function getArray(
  id: string,
  offset: number,
  limit: number,
  states: readonly string[] | null = null
): Promise<IArrayPage> {
  const state = states?.length ? states.join(',') : null;
  return requestAPI<IArrayPage>(
    `arrays/${encodeURIComponent(id)}${query({ offset, limit, state })}`
  );
}

/** Cancel, retry, hold or release a whole array: the elements the move applies to. */
export async function actOnArray(id: string, action: JobAction): Promise<IArrayRow> {
  const reply = await requestAPI<{ array: IArrayRow }>(
    `jobs/${encodeURIComponent(id)}/${action}`,
    { method: 'POST', body: '{}' }
  );
  return reply.array;
}

/** Where `moveJob` puts a job in line among the jobs of its priority. */
export type JobPlace = { top: true } | { bottom: true } | { before: string } | { after: string };

/**
 * Move a waiting or pending job in line among the waiting and pending jobs of
 * its priority (`{top: true}`: next to start among them).
 */
export async function moveJob(id: string, place: JobPlace): Promise<IJobRow> {
  const reply = await requestAPI<{ job: IJobRow }>(`jobs/${encodeURIComponent(id)}/move`, {
    method: 'POST',
    body: JSON.stringify(place)
  });
  return reply.job;
}

/** The settings a waiting or pending job's owner (or a queue admin) may change. */
export interface IJobChanges {
  name?: string | null;
  priority?: number;
  timeout?: number | null;
  retries?: number;
  /** Keys of an experiment's config to set. */
  config?: Record<string, unknown>;
}

/** Change settings of a waiting or pending job; the change is in its history. */
export async function updateJob(id: string, changes: IJobChanges): Promise<IJobRow> {
  const reply = await requestAPI<{ job: IJobRow }>(`jobs/${encodeURIComponent(id)}/settings`, {
    method: 'PATCH',
    body: JSON.stringify(changes)
  });
  return reply.job;
}

/**
 * A recurring schedule (`ScheduleRecord` on the server): it submits the same
 * run every `every` seconds or at the times of `cron` in `tz`.
 */
export interface IScheduleRow {
  name: string;
  user: string;
  host: string;
  every: number | null;
  cron: string | null;
  tz: string | null;
  /** "skip": no run while the previous one is still going; "queue": run anyway. */
  overlap: string;
  /** What a run submits, a line per step (hidden for another account's, in a system queue). */
  what: string;
  steps: number;
  paused: boolean;
  /** When its next run is due (Unix seconds). */
  next_at: number;
  /** Seconds until then when the list was read (null: paused). */
  next_in: number | null;
  created_at: number;
  last_due: number | null;
  last_job: string | null;
  last_state: string | null;
  /** How its last tick went: "14:00: JOB-...", "skipped 14:00: JOB-... still running". */
  last_note: string | null;
  /** In words: "every 2h", "cron 0 9 * * 1-5 (Europe/Berlin)". */
  rhythm: string;
  /** The current user may pause, resume or run it (its owner, or a queue admin). */
  may_act: boolean;
}

export interface IScheduleList {
  schedules: IScheduleRow[];
  user: string;
  version: number;
}

export type ScheduleAction = 'pause' | 'resume' | 'run-now';

/** Every schedule of the queue, by name. */
export function listSchedules(): Promise<IScheduleList> {
  return requestAPI<IScheduleList>('schedules');
}

/** Pause, resume or run one schedule now; its new row and the jobs a run-now submitted. */
export async function actOnSchedule(
  name: string,
  action: ScheduleAction
): Promise<{ schedule: IScheduleRow; jobs: string[] }> {
  return requestAPI<{ schedule: IScheduleRow; jobs: string[] }>(
    `schedules/${encodeURIComponent(name)}/${action}`,
    { method: 'POST' }
  );
}

// ---- the job view: what a job measured, printed and ran with (issue 13) ----------------

/** A column of measured values from some point on (null: a missing point). */
export type DataColumn = (number | null)[];

/** One page of an experiment job's data, from a point offset on (`jobs/<id>/data`). */
export interface IDataPage {
  job: string;
  /** False while the job has no data file yet. */
  exists: boolean;
  /** The first point of these columns. */
  offset: number;
  /** How many points the file holds in all. */
  points: number;
  columns: Record<string, DataColumn>;
  /** The plot's x column, and the columns plotted against it. */
  x: string | null;
  y: string[];
  /** Where the sweep will go (its first and last x), when the experiment said so. */
  x_range?: [number, number] | null;
  units: Record<string, string>;
  /** The file is closed: no more points will come. */
  complete: boolean;
  status: string;
  /** The fit's parameters (the job's result) once it completed. */
  summary: Record<string, unknown> | null;
  /** The fit curve: its x values and one column per fitted y. */
  fit: Record<string, number[]> | null;
}

/** A python job's captured rich outputs, from a byte offset on (`jobs/<id>/outputs`). */
export interface IOutputsPage {
  job: string;
  offset: number;
  /** The offset to ask from next. */
  next: number;
  /** nbformat output dicts. */
  outputs: Record<string, unknown>[];
  source: 'outputs' | 'log' | null;
  /** No more will come (the job ended and everything was read). */
  done: boolean;
}

export function getJobData(id: string, offset: number): Promise<IDataPage> {
  return requestAPI<IDataPage>(`jobs/${encodeURIComponent(id)}/data${query({ offset })}`);
}

export function getJobOutputs(id: string, offset: number): Promise<IOutputsPage> {
  return requestAPI<IOutputsPage>(`jobs/${encodeURIComponent(id)}/outputs${query({ offset })}`);
}

/** The job's submission as Python: `q.submit(experiment=..., config={...})`. */
export function getSubmission(id: string): Promise<{ job: string; python: string }> {
  return requestAPI<{ job: string; python: string }>(
    `jobs/${encodeURIComponent(id)}/submission`
  );
}

/** What `jobs/<id>` adds for the job view (absent from an older server). */
export interface IJobViewDetails extends IJobDetails {
  /** The experiment's module:Class target. */
  experiment?: string | null;
  /** The experiment's config snapshot (what produced its data). */
  config?: Record<string, unknown> | null;
  /** A small result (an experiment's fit summary), when the job has one. */
  result?: unknown;
  /**
   * What produced an experiment's data (`experiments.build_snapshot`, its big entries left
   * out and named in `omitted`): experiment, config (with defaults), submitted_config,
   * code, environment, station, run_by, run_on...
   */
  snapshot?: Record<string, unknown> | null;
}

/** The lab's dashboard: each resource's header, the queue, the live workers, warnings. */
export function getDashboard(): Promise<IDashboard> {
  return requestAPI<IDashboard>('dashboard');
}

/**
 * Pause or resume one resource (`resource` given) or the whole queue; answers
 * the new dashboard. A non-admin is refused (403) with one sentence.
 */
export function pauseOrResume(
  action: 'pause' | 'resume',
  resource: string | null
): Promise<IDashboard> {
  const route = resource === null ? 'queue' : `resources/${encodeURIComponent(resource)}`;
  return requestAPI<IDashboard>(`${route}/${action}`, { method: 'POST', body: '{}' });
}
