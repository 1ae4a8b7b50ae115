import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { movedTopics } from '../src/topics';
import { keepSame } from '../src/virtual_list';

test('a hold moves no topic: the history and the schedules are not read again', () => {
  const before = { ended: 4, schedules: 2 };
  assert.deepEqual(movedTopics(before, { ended: 4, schedules: 2 }), new Set());
});

test('a job that ended moves "ended" alone', () => {
  assert.deepEqual(movedTopics({ ended: 4, schedules: 2 }, { ended: 5, schedules: 2 }),
    new Set(['ended']));
});

test('counts not known (an older server, or the first answer) say nothing moved for sure', () => {
  assert.equal(movedTopics(null, { ended: 1, schedules: 0 }), null);
  assert.equal(movedTopics({ ended: 1, schedules: 0 }, null), null);
});

test('rows that did not change keep the object shown before, changed ones are new', () => {
  const a = { id: 'a', state: 'pending' };
  const b = { id: 'b', state: 'pending' };
  const after = keepSame([a, b], [{ id: 'a', state: 'pending' }, { id: 'b', state: 'waiting' }]);
  assert.equal(after[0], a);
  assert.notEqual(after[1], b);
  assert.equal(after[1].state, 'waiting');
});
