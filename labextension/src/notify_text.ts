/**
 * The words of a notification when a job ends: one sentence, no repetition. Pure module,
 * unit-tested with `node --test`.
 */
import { formatDuration } from './format';
import type { IJobBase } from './generated/job';

/** The first line of a job's error, or "". */
function firstLine(text: string | null): string {
  return (text ?? '').trim().split('\n')[0];
}

/**
 * How a job ended, said once ("failed: exit code 3", never "failed with exit code 3: exit
 * code 3"): the words of the server's `messages.sentence`, for a server without `sentence`.
 */
function outcome(job: IJobBase): string {
  const error = firstLine(job.error);
  switch (job.state) {
    case 'completed':
      return typeof job.started_at === 'number' && typeof job.finished_at === 'number'
        ? `completed in ${formatDuration(job.finished_at - job.started_at)}`
        : 'completed';
    case 'failed':
      if (error) {
        return error.startsWith('failed') ? error : `failed: ${error}`;
      }
      return job.exit_code !== null ? `failed: exit code ${job.exit_code}` : 'failed';
    case 'timeout':
      return error.startsWith('timed out') ? error : 'timed out';
    case 'cancelled':
      if (error.startsWith('cancelled')) {
        return `was ${error}`;
      }
      return error ? `was cancelled: ${error}` : 'was cancelled';
    default:
      return `ended ${job.state}`;
  }
}

/**
 * The one sentence of a job that ended: the server's (`sentence` on the job's JSON, the text
 * of its email and webhook too), or the same words made here.
 */
export function endMessage(job: IJobBase & { sentence?: string | null }): string {
  if (job.sentence) {
    return job.sentence;
  }
  const what = job.name ? `${job.id} (${job.name})` : job.id;
  return `Job ${what} ${outcome(job)}`;
}
