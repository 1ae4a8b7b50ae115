import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import type { IJobBase } from '../src/generated/job';
import { endMessage } from '../src/notify_text';
import { goneIds, liveModelIds } from '../src/outputs_cleared';

const job = (over: Record<string, unknown> = {}) =>
  ({
    id: 'JOB-20261130-00007',
    name: 'fit',
    state: 'failed',
    exit_code: 3,
    error: 'exit code 3',
    ...over
  }) as unknown as IJobBase & { sentence?: string | null };

test("the server's sentence is the notification, word for word", () => {
  const text = 'Job JOB-20261130-00007 (fit) of alice failed: exit code 3';
  assert.equal(endMessage(job({ sentence: text })), text);
});

test('without a sentence a failure says its exit code once', () => {
  assert.equal(endMessage(job()), 'Job JOB-20261130-00007 (fit) failed: exit code 3');
  assert.equal(endMessage(job({ error: null })), 'Job JOB-20261130-00007 (fit) failed: exit code 3');
  assert.equal(
    endMessage(job({ error: 'failed to start: no such file' })),
    'Job JOB-20261130-00007 (fit) failed to start: no such file'
  );
});

test('completions, timeouts and cancellations read as one sentence each', () => {
  assert.equal(endMessage(job({ state: 'completed', name: null })), 'Job JOB-20261130-00007 completed');
  assert.equal(
    endMessage(job({ state: 'completed', started_at: 100, finished_at: 223 })),
    'Job JOB-20261130-00007 (fit) completed in 2m 03s'
  );
  assert.equal(endMessage(job({ state: 'timeout', error: 'timed out after 10s' })),
    'Job JOB-20261130-00007 (fit) timed out after 10s');
  assert.equal(endMessage(job({ state: 'cancelled', error: 'cancelled by bob' })),
    'Job JOB-20261130-00007 (fit) was cancelled by bob');
});

const live = (id: string) => ({
  output_type: 'display_data',
  data: { 'application/vnd.jupyter.widget-view+json': { model_id: id, version_major: 2 }, 'text/plain': 'x' },
  metadata: { jobmagics: { live: true } }
});

test('only outputs marked live jobmagics widgets count as live views', () => {
  const other = { ...live('plain'), metadata: {} };
  const text = { output_type: 'stream', name: 'stdout', text: 'hi' };
  assert.deepEqual(liveModelIds([live('a'), other, text, null, live('b')]), ['a', 'b']);
});

test('the closed views are those shown before and gone now', () => {
  assert.deepEqual(goneIds(new Set(['a', 'b', 'c']), new Set(['b'])), ['a', 'c']);
  assert.deepEqual(goneIds(new Set(['a']), new Set(['a', 'd'])), []);
});
