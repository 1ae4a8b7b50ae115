import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { allowedActions, rowButtons, whyNot } from '../src/row_actions';

const job = (over: Record<string, unknown> = {}) => ({
  id: 'JOB-20261130-00001',
  user: 'alice',
  state: 'pending',
  held: false,
  cancel_requested: false,
  ...over
});

test('a button is enabled exactly when the server lists its action in may', () => {
  const b = rowButtons(job({ may: ['cancel', 'hold'] }), 'bob', false);
  assert.equal(b.cancel.enabled, true);
  assert.equal(b.hold.enabled, true);
  assert.equal(b.move.enabled, false);         // not in may, though bob... is not the owner
  assert.equal(b.edit.enabled, false);
  const mine = rowButtons(job({ may: [] }), 'alice', false);
  assert.equal(mine.cancel.enabled, false);    // the server said no: the row obeys it
});

test("another user's job: disabled, saying who may", () => {
  const b = rowButtons(job({ may: [] }), 'bob', false);
  assert.equal(b.cancel.title, 'Only alice or a queue admin may cancel it');
  assert.equal(b.move.title, 'Only alice or a queue admin may move it');
});

test('a state that forbids the action says so', () => {
  assert.equal(whyNot(job({ state: 'completed' }), 'cancel', 'alice', false),
    'completed jobs cannot be cancelled');
  assert.equal(whyNot(job({ state: 'running' }), 'move', 'alice', false),
    'running jobs cannot be moved');
  assert.equal(whyNot(job({ cancel_requested: true, state: 'running' }), 'cancel', 'alice', false),
    'Cancellation requested');
});

test('buttons show where they belong: cancel while active, retry after a failure, hold or release', () => {
  const pending = rowButtons(job({ may: ['cancel', 'hold', 'move', 'edit'] }), 'alice', false);
  assert.deepEqual(
    [pending.cancel.shown, pending.retry.shown, pending.hold.shown, pending.release.shown],
    [true, false, true, false]
  );
  const held = rowButtons(job({ state: 'waiting', held: true, may: ['release'] }), 'alice', false);
  assert.equal(held.release.shown && held.release.enabled, true);
  assert.equal(held.hold.shown, false);
  const failed = rowButtons(job({ state: 'failed', may: ['retry'] }), 'alice', false);
  assert.deepEqual([failed.cancel.shown, failed.retry.shown, failed.retry.enabled], [false, true, true]);
  assert.equal(failed.retry.title, 'Retry JOB-20261130-00001');
});

test('without may (an older server) the owner or an admin may act, as before', () => {
  assert.deepEqual([...allowedActions(job(), 'alice', false)].sort(),
    ['cancel', 'edit', 'hold', 'move']);
  assert.deepEqual([...allowedActions(job(), 'bob', false)], []);
  assert.deepEqual([...allowedActions(job({ state: 'failed' }), 'bob', true)], ['retry']);
});
