/**
 * Formatting of times, durations, sizes and progress. Pure module (no
 * JupyterLab imports), unit-tested with `node --test`.
 */

/** A tiny lift so that 0.29 (28.999... percent in binary) reads 29%, as in Python. */
const EPSILON = 1e-9;

/**
 * "4.2s", "42s", "4m 05s", "2h 03m", "3d 04h": the one duration format of
 * jobmagics (formats.format_duration; its examples are checked by the tests).
 * null -> "-"; negative or NaN -> "0.0s".
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '-';
  }
  if (!Number.isFinite(seconds) || seconds < 0) {
    seconds = 0;
  }
  if (seconds < 10) {
    return `${(Math.floor(seconds * 10 + EPSILON) / 10).toFixed(1)}s`;
  }
  const whole = Math.floor(seconds);
  if (whole < 60) {
    return `${whole}s`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  const m = Math.floor(whole / 60);
  if (m < 60) {
    return `${m}m ${pad(whole % 60)}s`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return `${h}h ${pad(m % 60)}m`;
  }
  return `${Math.floor(h / 24)}d ${pad(h % 24)}h`;
}

/** Seconds since an epoch time, as "5s ago"; "just now" under one second. */
export function formatAge(epochSeconds: number, nowSeconds: number): string {
  const age = nowSeconds - epochSeconds;
  if (age < 1) {
    return 'just now';
  }
  return `${formatDuration(age)} ago`;
}

/** Fields of a job used to describe its timing. */
export interface ITimedJob {
  state: string;
  submitted_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/**
 * The time column of a row: how long it ran (running: so far), or how long it
 * has been waiting.
 */
export function formatTiming(job: ITimedJob, nowSeconds: number): string {
  if (job.started_at !== null && job.started_at !== undefined) {
    const end = job.finished_at ?? nowSeconds;
    const ran = formatDuration(end - job.started_at);
    if (job.finished_at !== null && job.finished_at !== undefined) {
      return `ran ${ran}, ${formatAge(job.finished_at, nowSeconds)}`;
    }
    return `running ${ran}`;
  }
  if (job.finished_at !== null && job.finished_at !== undefined) {
    return `ended ${formatAge(job.finished_at, nowSeconds)}`;
  }
  return `queued ${formatDuration(nowSeconds - job.submitted_at)}`;
}

/**
 * A progress fraction as a whole percentage in 0..100, rounded down
 * (formats.progress_percent); null -> null.
 */
export function progressPercent(progress: number | null | undefined): number | null {
  if (progress === null || progress === undefined || !Number.isFinite(progress)) {
    return null;
  }
  return Math.floor(Math.min(1, Math.max(0, progress)) * 100 + EPSILON);
}

/**
 * The text beside a progress bar: "42% sweep 2/5", "sweep 2/5", "42%" or ""
 * (formats.progress_text).
 */
export function progressText(
  progress: number | null | undefined,
  stage: string | null | undefined
): string {
  const pct = progressPercent(progress);
  return [pct === null ? '' : `${pct}%`, stage ?? ''].filter(part => part).join(' ');
}

/** Bytes as "512 B", "1.5 KiB", "4.0 GiB"; null -> "". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** An epoch time as a local "YYYY-MM-DD HH:MM:SS"; null -> "". */
export function formatTimestamp(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) {
    return '';
  }
  const d = new Date(epochSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

/** A job's command or code shortened to one line for a tooltip or a row. */
export function describeSpec(
  command: string[] | null | undefined,
  code: string | null | undefined,
  max = 80
): string {
  let text = '';
  if (command?.length) {
    text = command
      .map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
      .join(' ');
  } else if (code) {
    text = code.trim().split('\n')[0];
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Delay before the next poll: `base` while the page is visible, growing by
 * `factor` per consecutive idle poll while hidden, capped at `max`.
 */
export function nextPollDelay(
  hidden: boolean,
  idleRounds: number,
  base = 1000,
  factor = 2,
  max = 30000
): number {
  if (!hidden) {
    return base;
  }
  return Math.min(max, base * factor ** Math.max(1, idleRounds));
}

/** The fields of a job that say whether its worker is gone. */
export interface ILostJob {
  state: string;
  worker_lost_at?: number | null;
}

/**
 * "running (worker lost 42 s ago)" for a running job whose worker is gone (its
 * process ended, or its lease ran out); null otherwise. Such a job is not
 * running any more: the next worker to start requeues or fails it.
 */
export function workerLostText(job: ILostJob, nowSeconds: number): string | null {
  if (job.state !== 'running' || job.worker_lost_at === null || job.worker_lost_at === undefined) {
    return null;
  }
  const ago = Math.max(0, Math.round(nowSeconds - job.worker_lost_at));
  return `running (worker lost ${ago} s ago)`;
}

/** The order of the active states in the queue (and in its `counts`). */
export const QUEUE_ORDER = ['running', 'pending', 'waiting'];

/**
 * Jobs per state after a page of `shown` jobs from `offset`, in a listing
 * ordered by state as `counts` (running, pending, waiting).
 */
export function moreByState(
  counts: Record<string, number>,
  offset: number,
  shown: number
): Record<string, number> {
  let left = offset + shown;
  const more: Record<string, number> = {};
  for (const state of QUEUE_ORDER) {
    const count = counts[state] ?? 0;
    const taken = Math.min(count, left);
    left -= taken;
    if (count - taken > 0) {
      more[state] = count - taken;
    }
  }
  return more;
}

/** "… and 179,950 more pending, 12 more waiting"; "" when there are none. */
export function moreText(more: Record<string, number>): string {
  const parts = Object.entries(more)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n.toLocaleString('en-US')} more${state ? ` ${state}` : ''}`);
  return parts.length ? `… and ${parts.join(', ')}` : '';
}

/** The segments of an array's stacked bar, left to right: ended, then running, then queued. */
export const ARRAY_BAR_ORDER = [
  'completed',
  'failed',
  'timeout',
  'cancelled',
  'running',
  'pending',
  'waiting'
];

/** [state, count] of every state an array has elements in, in `ARRAY_BAR_ORDER`. */
export function arraySegments(counts: Record<string, number>): [string, number][] {
  return ARRAY_BAR_ORDER.filter(state => (counts[state] ?? 0) > 0).map(
    state => [state, counts[state]] as [string, number]
  );
}

/** "3/10 ended, 2 running": how far an array is. */
export function arrayProgressText(size: number, counts: Record<string, number>): string {
  const ended = ['completed', 'failed', 'timeout', 'cancelled'].reduce(
    (sum, state) => sum + (counts[state] ?? 0),
    0
  );
  const running = counts.running ?? 0;
  const text = `${ended.toLocaleString('en-US')}/${size.toLocaleString('en-US')} ended`;
  return running ? `${text}, ${running.toLocaleString('en-US')} running` : text;
}

/** The ended states in an array's end text, what went wrong first. */
const ENDED_ORDER = ['failed', 'timeout', 'cancelled', 'completed'];

/** "3 failed, 37 completed": how the elements of an array ended. */
export function arrayEndedText(counts: Record<string, number>): string {
  return ENDED_ORDER.filter(state => (counts[state] ?? 0) > 0)
    .map(state => `${counts[state].toLocaleString('en-US')} ${state}`)
    .join(', ');
}
