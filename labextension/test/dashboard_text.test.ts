import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  heartbeatText,
  type IDashboard,
  type IResourceStatus,
  nextText,
  pauseTitle,
  queueStateText,
  resourceHeaderText,
  workerText
} from '../src/dashboard_text';

const resource = (over: Partial<IResourceStatus> = {}): IResourceStatus => ({
  name: 'hardware',
  capacity: 1,
  in_use: 1,
  paused: false,
  running: [{ id: 'JOB-20261130-00007', name: 'rabi', user: 'alice', started_at: 1, progress: 0.5 }],
  waiting: 3,
  next: null,
  ...over
});

test('a resource header names the running job, the waiting count and the pause state', () => {
  assert.equal(resourceHeaderText(resource()),
    'hardware: running JOB-20261130-00007 rabi (alice), 3 waiting · active');
  assert.equal(resourceHeaderText(resource({ paused: true, running: [], in_use: 0, waiting: 0 })),
    'hardware: idle, 0 waiting · paused');
});

test('a resource of several units says how many are in use and names two running jobs', () => {
  const job = (n: number) => ({ id: `J${n}`, name: null, user: 'bob', started_at: 1, progress: null });
  assert.equal(
    resourceHeaderText(resource({ name: 'gpu', capacity: 4, in_use: 3, running: [job(1), job(2), job(3)], waiting: 1200 })),
    'gpu 3/4: running J1 (bob), J2 (bob) +1 more, 1,200 waiting · active');
});

test("the queue's line counts its jobs and says whether it is paused", () => {
  const d = { paused: true, queue: { running: 1, pending: 1000, waiting: 2, next: [], stored: 1e6 } };
  assert.equal(queueStateText(d as unknown as IDashboard),
    'Queue: 1 running, 1,000 pending, 2 waiting · paused');
});

test('a heartbeat age reads in whole seconds, then as a duration', () => {
  assert.equal(heartbeatText(0.4), 'just now');
  assert.equal(heartbeatText(3.7), '3 s ago');
  assert.equal(heartbeatText(125), '2m 05s ago');
});

test("a worker's line: host, slots in use, resources, heartbeat; a lost one says so", () => {
  const w = { id: 'w1', host: 'lab-pc', user: 'root', pid: 12, slots: 2, slots_in_use: 1,
    resources: ['hardware'], heartbeat_age: 3, alive: true, draining: false };
  assert.equal(workerText(w, 3.2), 'lab-pc · 1/2 slots · hardware · 3 s ago');
  assert.equal(workerText({ ...w, resources: { hardware: 1, gpu: 2 } }, 3.2),
    'lab-pc · 1/2 slots · hardware, gpu×2 · 3 s ago');
  assert.equal(workerText({ ...w, alive: false, draining: true, resources: [] }, 95),
    'lab-pc · 1/2 slots · no heartbeat for 1m 35s · draining');
});

test('pause offers itself to admins and says why not to others', () => {
  assert.equal(pauseTitle('hardware', false, false), 'Only a queue admin may pause hardware');
  assert.equal(pauseTitle('hardware', true, false), 'Only a queue admin may resume hardware');
  assert.match(pauseTitle('the queue', false, true), /^Pause the queue/);
});

test('a job of what runs next: name, owner, priority and resources', () => {
  assert.equal(nextText({ id: 'J9', name: 'fit', user: 'bob', priority: 5, resources: { hardware: 1 } }),
    'J9 fit (bob) · P5 · hardware');
  assert.equal(nextText({ id: 'J9', name: null, user: 'bob', priority: 0, resources: [] }), 'J9 (bob)');
});
