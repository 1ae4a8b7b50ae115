import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  arrayEndedText,
  describeSpec,
  formatAge,
  formatBytes,
  formatDuration,
  formatTiming,
  moreByState,
  moreText,
  nextPollDelay,
  progressPercent,
  progressText,
  workerLostText
} from '../src/format';
import { DURATION_EXAMPLES, PROGRESS_EXAMPLES } from '../src/generated/job';

test('durations read naturally at every scale, as in Python', () => {
  assert.equal(formatDuration(0), '0.0s');
  assert.equal(formatDuration(4.25), '4.2s');
  assert.equal(formatDuration(59.9), '59s');
  assert.equal(formatDuration(65), '1m 05s');
  assert.equal(formatDuration(3600 * 2 + 180), '2h 03m');
  assert.equal(formatDuration(86400 * 3 + 3600 * 4), '3d 04h');
  assert.equal(formatDuration(-5), '0.0s');
  assert.equal(formatDuration(NaN), '0.0s');
  assert.equal(formatDuration(null), '-');
});

test('every duration example of jobmagics/formats.py reads the same here', () => {
  assert.ok(DURATION_EXAMPLES.length > 0);
  for (const [seconds, text] of DURATION_EXAMPLES) {
    assert.equal(formatDuration(seconds), text, `formatDuration(${seconds})`);
  }
});

test('every progress example of jobmagics/formats.py reads the same here', () => {
  assert.ok(PROGRESS_EXAMPLES.length > 0);
  for (const [progress, stage, text] of PROGRESS_EXAMPLES) {
    assert.equal(progressText(progress, stage), text, `progressText(${progress}, ${stage})`);
  }
});

test('ages under a second read "just now"', () => {
  assert.equal(formatAge(100, 100.5), 'just now');
  assert.equal(formatAge(100, 110), '10s ago');
});

test('timing describes queued, running and finished jobs', () => {
  const base = { submitted_at: 100, started_at: null, finished_at: null };
  assert.equal(formatTiming({ ...base, state: 'pending' }, 130), 'queued 30s');
  assert.equal(formatTiming({ ...base, state: 'running', started_at: 110 }, 175), 'running 1m 05s');
  assert.equal(
    formatTiming({ ...base, state: 'completed', started_at: 110, finished_at: 120 }, 150),
    'ran 10s, 30s ago'
  );
  assert.equal(
    formatTiming({ ...base, state: 'cancelled', finished_at: 120 }, 121.5),
    'ended 1.5s ago'
  );
});

test('progress is clamped, in whole percent rounded down, and shown with its stage', () => {
  assert.equal(progressPercent(null), null);
  assert.equal(progressPercent(0.4211), 42);
  assert.equal(progressPercent(0.4291), 42);
  assert.equal(progressPercent(0.29), 29);
  assert.equal(progressPercent(1.7), 100);
  assert.equal(progressPercent(-1), 0);
  assert.equal(progressText(0.4, 'sweep 2/5'), '40% sweep 2/5');
  assert.equal(progressText(null, 'warming up'), 'warming up');
  assert.equal(progressText(0.125, null), '12%');
  assert.equal(progressText(null, null), '');
});

test('bytes use binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(4 * 1024 ** 3), '4.0 GiB');
  assert.equal(formatBytes(null), '');
});

test('a command is quoted like a shell would need it, code shows its first line', () => {
  assert.equal(describeSpec(['python', 'fit.py', '--n', '3'], null), 'python fit.py --n 3');
  assert.equal(describeSpec(['sh', '-c', 'echo hi; sleep 1'], null), "sh -c 'echo hi; sleep 1'");
  assert.equal(describeSpec(null, '\nimport numpy\nprint(1)'), 'import numpy');
  assert.equal(describeSpec(['x'.repeat(100)], null, 10), 'xxxxxxxxx…');
});

test('polling backs off only while the page is hidden', () => {
  assert.equal(nextPollDelay(false, 10), 1000);
  assert.equal(nextPollDelay(true, 1), 2000);
  assert.equal(nextPollDelay(true, 3), 8000);
  assert.equal(nextPollDelay(true, 50), 30000);
});

test('a running job whose worker is gone says since when', () => {
  const lost = { state: 'running', worker_lost_at: 1000 };
  assert.equal(workerLostText(lost, 1042.4), 'running (worker lost 42 s ago)');
  assert.equal(workerLostText(lost, 999), 'running (worker lost 0 s ago)');
  assert.equal(workerLostText({ state: 'running', worker_lost_at: null }, 1042), null);
  assert.equal(workerLostText({ state: 'running' }, 1042), null);
  // Only a running job can have lost its worker; a requeued one is pending again.
  assert.equal(workerLostText({ state: 'pending', worker_lost_at: 1000 }, 1042), null);
});

test('the jobs after a page of the queue are counted per state', () => {
  const counts = { running: 2, pending: 180000, waiting: 12 };
  assert.deepEqual(moreByState(counts, 0, 50), { pending: 179952, waiting: 12 });
  assert.deepEqual(moreByState(counts, 0, 1), { running: 1, pending: 180000, waiting: 12 });
  assert.deepEqual(moreByState(counts, 180000, 14), {});
  assert.deepEqual(moreByState({ running: 0, pending: 3, waiting: 0 }, 0, 3), {});
});

test('"and N more" reads like the CLI and says nothing when nothing is left', () => {
  assert.equal(
    moreText({ pending: 179952, waiting: 12 }),
    '… and 179,952 more pending, 12 more waiting'
  );
  assert.equal(moreText({ finished: 1234 }), '… and 1,234 more finished');
  assert.equal(moreText({ pending: 0 }), '');
  assert.equal(moreText({}), '');
});

test('an ended array is told in counts, the worst first', () => {
  assert.equal(arrayEndedText({ completed: 37, failed: 3 }), '3 failed, 37 completed');
  assert.equal(arrayEndedText({ completed: 40 }), '40 completed');
  assert.equal(arrayEndedText({ completed: 1234, failed: 0 }), '1,234 completed');
});
