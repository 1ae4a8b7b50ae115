/** What the Jobs panel shows when it cannot show jobs, from the request that failed. */
import { APIError } from './api';

/** What the panel shows when it cannot show jobs. */
export interface IModelProblem {
  kind: 'no-extension' | 'queue' | 'busy' | 'network' | 'other';
  message: string;
}

/** Turn a failed request into the message the panel shows. */
export function describeProblem(error: unknown): IModelProblem {
  if (error instanceof APIError) {
    if (error.missingExtension) {
      return {
        kind: 'no-extension',
        message:
          'The jobmagics server extension is not running on this Jupyter server. ' +
          'Install jobmagics in the server\'s environment and check ' +
          '"jupyter server extension list", then restart the server.'
      };
    }
    if (error.busy) {
      return {
        kind: 'busy',
        message: 'The job queue is busy (another process holds its write lock). Retrying…'
      };
    }
    if (error.queueUnavailable) {
      return { kind: 'queue', message: `The job queue cannot be read: ${error.message}` };
    }
    if (error.network) {
      return { kind: 'network', message: 'The Jupyter server cannot be reached. Retrying…' };
    }
    return { kind: 'other', message: `${error.message} (HTTP ${error.status})` };
  }
  return { kind: 'other', message: String(error) };
}
