import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  actionsFor,
  badgeFor,
  endedSince,
  isActive,
  isTerminal,
  statesForFilter
} from '../src/states';

const job = (over: Record<string, unknown> = {}) => ({
  id: 'JOB-20261121-00001',
  user: 'alice',
  state: 'running',
  held: false,
  cancel_requested: false,
  ...over
});

test('terminal and active states partition the seven states', () => {
  for (const s of ['completed', 'failed', 'cancelled', 'timeout']) {
    assert.equal(isTerminal(s), true, s);
    assert.equal(isActive(s), false, s);
  }
  for (const s of ['waiting', 'pending', 'running']) {
    assert.equal(isTerminal(s), false, s);
    assert.equal(isActive(s), true, s);
  }
});

test('badge class follows the state and labels held and cancelling jobs', () => {
  assert.deepEqual(badgeFor(job()), { label: 'running', className: 'jm-state-running' });
  assert.deepEqual(badgeFor(job({ state: 'waiting', held: true })), {
    label: 'held',
    className: 'jm-state-waiting'
  });
  assert.equal(badgeFor(job({ cancel_requested: true })).label, 'cancelling');
  assert.equal(badgeFor(job({ state: 'failed', cancel_requested: true })).label, 'failed');
  assert.equal(badgeFor(job({ state: 'bogus' })).className, 'jm-state-unknown');
});

test('only the owner or an admin may act on a job', () => {
  assert.equal(actionsFor(job(), 'alice', false).cancel, true);
  assert.equal(actionsFor(job(), 'bob', false).cancel, false);
  assert.equal(actionsFor(job(), 'bob', true).cancel, true);
  assert.equal(actionsFor(job({ state: 'failed' }), 'bob', false).retry, false);
});

test('cancel is offered for unfinished jobs and retry for failed ones', () => {
  assert.deepEqual(actionsFor(job({ state: 'pending' }), 'alice', false), {
    cancel: true,
    retry: false,
    hold: true,
    release: false
  });
  assert.deepEqual(actionsFor(job({ state: 'waiting', held: true }), 'alice', false), {
    cancel: true,
    retry: false,
    hold: false,
    release: true
  });
  assert.equal(actionsFor(job({ cancel_requested: true }), 'alice', false).cancel, false);
  for (const s of ['failed', 'cancelled', 'timeout']) {
    const a = actionsFor(job({ state: s }), 'alice', false);
    assert.equal(a.retry, true, s);
    assert.equal(a.cancel, false, s);
  }
  assert.equal(actionsFor(job({ state: 'completed' }), 'alice', false).retry, false);
});

test('the state filter maps onto the active and history queries', () => {
  assert.deepEqual(statesForFilter('all').active, ['waiting', 'pending', 'running']);
  assert.deepEqual(statesForFilter('all').history, [
    'completed',
    'failed',
    'cancelled',
    'timeout'
  ]);
  assert.deepEqual(statesForFilter('running'), { active: ['running'], history: null });
  assert.deepEqual(statesForFilter('failed'), { active: null, history: ['failed'] });
  assert.equal(statesForFilter('history').active, null);
  assert.equal(statesForFilter('active').history, null);
});

test('jobs that left the active list are reported as ended', () => {
  const before = ['A', 'B', 'C'];
  const after = [job({ id: 'B' }), job({ id: 'C', state: 'completed' }), job({ id: 'D' })];
  assert.deepEqual(endedSince(before, after), ['A', 'C']);
  assert.deepEqual(endedSince([], after), []);
});

test('a running job whose worker is gone keeps its label in the warning style', () => {
  assert.deepEqual(badgeFor(job({ worker_lost_at: 1000 })), {
    label: 'running',
    className: 'jm-state-lost'
  });
  assert.deepEqual(badgeFor(job({ worker_lost_at: null })), {
    label: 'running',
    className: 'jm-state-running'
  });
  assert.equal(badgeFor(job({ state: 'failed', worker_lost_at: 1000 })).className, 'jm-state-failed');
});
