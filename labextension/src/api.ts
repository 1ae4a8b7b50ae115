/**
 * The REST API of the jobmagics server extension (`/jobmagics/api/...`):
 * one typed request helper and thin wrappers around it.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IJob {
  id: string;
  name: string | null;
  kind: string;
  user: string;
  host: string;
  state: string;
  held: boolean;
  priority: number;
  resources: string[];
  cpus: number;
  memory: number | null;
  after: string[];
  timeout: number | null;
  retries: number;
  attempt: number;
  submitted_at: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  error: string | null;
  worker: string | null;
  progress: number | null;
  stage: string | null;
  cancel_requested: boolean;
  backend: string;
  cwd: string;
  /** null in listings when the command line is very long (see `summary`). */
  command: string[] | null;
  /** The python code: from the one-job route only (listings are brief). */
  code?: string | null;
  /** What the job runs, on one line (at most 200 characters). */
  summary?: string;
  /** True in listings: code, env, options and config come from `getJob`. */
  brief?: boolean;
  /** A running job whose worker is gone: when it was last known alive (epoch s). */
  worker_lost_at?: number | null;
  /** The job's environment: on the one-job route, to its owner or a queue admin. */
  env?: Record<string, string>;
  log_path: string;
  data_path: string;
  outputs_path: string;
}

export interface IEvent {
  at: number;
  state: string;
  detail: string | null;
}

export interface IJobList {
  jobs: IJob[];
  total: number;
  limit: number;
  offset: number;
  user: string;
  version: number;
}

/** One page of the active queue, in the order the jobs will start. */
export interface IQueuePage {
  jobs: IJob[];
  /** Active jobs per state ("running", "pending", "waiting"), page or not. */
  counts: Record<string, number>;
  total: number;
  /** Jobs after this page. */
  more: number;
  limit: number;
  offset: number;
  user: string;
  version: number;
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
  changed: boolean;
  /** A worker died (or started) during the poll: running jobs may read "worker lost". */
  workers_changed?: boolean;
}

export interface ISubmitSpec {
  command?: string[];
  code?: string;
  name?: string;
  priority?: number;
  resources?: string[];
  cpus?: number;
  memory?: number | string;
  after?: string[];
  timeout?: number;
  retries?: number;
  cwd?: string;
}

export type JobAction = 'cancel' | 'retry' | 'hold' | 'release';

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
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message =
      (data && (data.error || data.message)) || response.statusText || `HTTP ${response.status}`;
    throw new APIError(message, response.status, (data && data.type) || '');
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
        offset: options.offset
      })
  );
}

export interface IQueueOptions {
  user?: string;
  mine?: boolean;
  limit?: number;
  offset?: number;
}

/** The active jobs (running, pending, waiting) in start order, one page. */
export function listQueue(options: IQueueOptions = {}): Promise<IQueuePage> {
  return requestAPI<IQueuePage>(
    'queue' +
      query({
        user: options.user,
        mine: options.mine,
        limit: options.limit,
        offset: options.offset
      })
  );
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

export function waitForChange(
  version: number,
  timeout: number,
  signal?: AbortSignal
): Promise<IChanges> {
  return requestAPI<IChanges>(`changes${query({ version, timeout })}`, { signal });
}

export async function submitJob(spec: ISubmitSpec): Promise<IJob> {
  const reply = await requestAPI<{ job: IJob }>('jobs', {
    method: 'POST',
    body: JSON.stringify(spec)
  });
  return reply.job;
}

export async function actOnJob(id: string, action: JobAction): Promise<IJob> {
  const reply = await requestAPI<{ job: IJob }>(
    `jobs/${encodeURIComponent(id)}/${action}`,
    { method: 'POST', body: '{}' }
  );
  return reply.job;
}

/**
 * One action on several jobs, all or none: the server checks every id before
 * it changes any, and rejects with the first problem (naming its job).
 */
export async function actOnJobs(action: JobAction, ids: string[]): Promise<IJob[]> {
  const reply = await requestAPI<{ action: JobAction; jobs: IJob[] }>('jobs/actions', {
    method: 'POST',
    body: JSON.stringify({ action, ids })
  });
  return reply.jobs;
}
