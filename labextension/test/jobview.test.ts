import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import type { IDataPage } from '../src/api';
import { emptyData, mergeDataPage, nextOffset } from '../src/jobview/data';
import {
  axisUnit,
  decimalsOf,
  extent,
  formatTick,
  formatValue,
  linearScale,
  niceStep,
  niceTicks,
  paddedDomain
} from '../src/jobview/scales';
import { timelineEntries, whoOf } from '../src/jobview/timeline';
import { FALLBACK_MS_HIDDEN, FALLBACK_MS_VISIBLE, pauseMs } from '../src/jobview/waker';

test('the extent skips missing points and is null without any', () => {
  assert.deepEqual(extent([3, null, -1], [NaN, 7]), [-1, 7]);
  assert.equal(extent([null, null]), null);
  assert.equal(extent(), null);
});

test('a flat line still gets an axis around its value', () => {
  assert.deepEqual(paddedDomain([5, 5]), [4.5, 5.5]);
  assert.deepEqual(paddedDomain([0, 0]), [-1, 1]);
  assert.deepEqual(paddedDomain(null), [0, 1]);
  const [low, high] = paddedDomain([0, 100]);
  assert.ok(low < 0 && high > 100);
});

test('a linear scale maps the domain onto the pixels, an inverted range too', () => {
  const sx = linearScale([0, 10], [50, 150]);
  assert.equal(sx(0), 50);
  assert.equal(sx(5), 100);
  assert.equal(sx(10), 150);
  const sy = linearScale([0, 1], [300, 20]);
  assert.equal(sy(0), 300);
  assert.equal(sy(1), 20);
});

test('ticks are nice multiples of 1, 2, 2.5 or 5 inside the domain, without binary noise', () => {
  assert.deepEqual(niceTicks(0, 200, 5), [0, 50, 100, 150, 200]);
  assert.deepEqual(niceTicks(0.1, 0.9, 4), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(-1.05, 1.05, 4), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(niceTicks(0, 0.3, 3), [0, 0.1, 0.2, 0.3]);
  assert.equal(niceStep(10, 4), 2.5);
  assert.equal(niceStep(0, 5), 1);
  for (const tick of niceTicks(7000.0, 7025.0, 6)) {
    assert.ok(tick >= 7000 && tick <= 7025, String(tick));
  }
});

test('an axis of seconds or hertz takes the SI prefix of its largest value', () => {
  assert.deepEqual(axisUnit(2e-7, 's'), { factor: 1e-9, unit: 'ns' });
  assert.deepEqual(axisUnit(7.01e9, 'Hz'), { factor: 1e9, unit: 'GHz' });
  assert.deepEqual(axisUnit(150e-6, 's'), { factor: 1e-6, unit: 'µs' });
  assert.deepEqual(axisUnit(0.5, 'V'), { factor: 1e-3, unit: 'mV' });
  assert.deepEqual(axisUnit(3, 'a.u.'), { factor: 1, unit: 'a.u.' });
  assert.deepEqual(axisUnit(3e-7, ''), { factor: 1, unit: '' });
});

test('ticks read with the decimals their step needs', () => {
  assert.equal(decimalsOf(0.25), 2);
  assert.equal(decimalsOf(50), 0);
  assert.equal(formatTick(150, 50), '150');
  assert.equal(formatTick(0.5, 0.25), '0.50');
  assert.equal(formatTick(2.5e-7, 5e-8), '2.5e-7');
  assert.equal(formatTick(0, 5e-8), '0');
});

test('a summary value reads in six significant digits, or exponent form', () => {
  assert.equal(formatValue(0.123456789), '0.123457');
  assert.equal(formatValue(4.9e-8), '4.9000e-8');
  assert.equal(formatValue(12), '12');
  assert.equal(formatValue('rabi'), 'rabi');
  assert.equal(formatValue(null), '');
  assert.equal(formatValue([1, 2]), '[1,2]');
});

function page(over: Partial<IDataPage>): IDataPage {
  return {
    job: 'JOB-1',
    exists: true,
    offset: 0,
    points: 0,
    columns: {},
    x: 'length',
    y: ['i', 'q'],
    units: { length: 's' },
    complete: false,
    status: 'running',
    summary: null,
    fit: null,
    ...over
  };
}

test('data pages append from the held count and the next request asks from there', () => {
  let data = mergeDataPage(
    emptyData(),
    page({ offset: 0, points: 2, columns: { length: [0, 1], i: [5, 6], q: [7, 8] } })
  );
  assert.equal(data.count, 2);
  assert.equal(nextOffset(data), 2);
  data = mergeDataPage(data, page({ offset: 2, points: 3, columns: { length: [2], i: [9], q: [null] } }));
  assert.deepEqual(data.columns, { length: [0, 1, 2], i: [5, 6, 9], q: [7, 8, null] });
  assert.equal(data.complete, false);
  data = mergeDataPage(
    data,
    page({ offset: 3, points: 3, columns: {}, complete: true, summary: { t: 1 }, fit: { x: [0, 2], i: [5, 9] } })
  );
  assert.equal(data.count, 3);
  assert.equal(data.complete, true);
  assert.deepEqual(data.summary, { t: 1 });
  assert.deepEqual(data.fit, { x: [0, 2], i: [5, 9] });
});

test('an overlapping page replaces the points it repeats; a column that appears later is padded', () => {
  let data = mergeDataPage(emptyData(), page({ offset: 0, points: 2, columns: { length: [0, 1], i: [5, 6] } }));
  data = mergeDataPage(data, page({ offset: 1, points: 3, columns: { length: [1, 2], i: [60, 70], q: [1, 2] } }));
  assert.deepEqual(data.columns, { length: [0, 1, 2], i: [5, 60, 70], q: [null, 1, 2] });
  assert.equal(data.count, 3);
});

test('a page beyond the held points is ignored, so the next request fills the gap', () => {
  const held = mergeDataPage(emptyData(), page({ offset: 0, points: 2, columns: { length: [0, 1] } }));
  const after = mergeDataPage(held, page({ offset: 5, points: 6, columns: { length: [5] } }));
  assert.equal(after.count, 2);
  assert.deepEqual(after.columns, { length: [0, 1] });
});

test('a data file with fewer points than held was rewritten (a retry): start over', () => {
  const held = mergeDataPage(emptyData(), page({ offset: 0, points: 3, columns: { length: [0, 1, 2] } }));
  const fresh = mergeDataPage(held, page({ offset: 3, points: 1, columns: {} }));
  assert.equal(fresh.count, 0);
  assert.equal(nextOffset(fresh), 0);
  const again = mergeDataPage(fresh, page({ offset: 0, points: 1, columns: { length: [9] } }));
  assert.deepEqual(again.columns, { length: [9] });
});

test('no data file yet holds nothing and is not complete', () => {
  const data = mergeDataPage(emptyData(), page({ exists: false, points: 0, complete: false }));
  assert.equal(data.count, 0);
  assert.equal(data.complete, false);
});

test('the timeline says how long each state lasted and who made each change', () => {
  const events = [
    { at: 1000, state: 'pending', detail: 'submitted by alice' },
    { at: 1002.5, state: 'running', detail: 'attempt 1 on lab-pc-4242' },
    { at: 1065, state: 'cancelled', detail: 'cancelled by bob' }
  ];
  const entries = timelineEntries(events, 2000);
  assert.deepEqual(
    entries.map(e => [e.state, e.since, e.stayed, e.who]),
    [
      ['pending', 'submitted', '2.5s', 'alice'],
      ['running', '+2.5s', '1m 02s', 'lab-pc-4242'],
      ['cancelled', '+1m 05s', '', 'bob']
    ]
  );
});

test('the current state of an active job has lasted until now so far', () => {
  const entries = timelineEntries(
    [
      { at: 100, state: 'pending', detail: null },
      { at: 101, state: 'running', detail: 'attempt 1 on w1' }
    ],
    113
  );
  assert.equal(entries[1].stayed, '12s so far');
  assert.equal(entries[0].who, '');
});

test('who made a change is read from the details the store writes', () => {
  assert.equal(whoOf('submitted by alice (held)'), 'alice');
  assert.equal(whoOf('retried by bob'), 'bob');
  assert.equal(whoOf('attempt 2 on host-1:123'), 'host-1:123');
  assert.equal(whoOf('exit 3'), '');
  assert.equal(whoOf('dependency JOB-20261130-00001 completed'), '');
  assert.equal(whoOf(null), '');
});

test('a live section waits for a change while the job is queued or ended and read', () => {
  assert.equal(pauseMs('pending', false, true), null);
  assert.equal(pauseMs('waiting', false, true), null);
  assert.equal(pauseMs('completed', true, true), null);
  assert.equal(pauseMs('failed', true, false), null);
});

test('a live section polls slowly while the job runs, or ended with more to read', () => {
  assert.equal(pauseMs('running', false, true), FALLBACK_MS_VISIBLE);
  assert.equal(pauseMs('running', true, false), FALLBACK_MS_HIDDEN);
  assert.equal(pauseMs('completed', false, true), FALLBACK_MS_VISIBLE);
  assert.equal(pauseMs(null, true, true), FALLBACK_MS_VISIBLE);
});

test('the planned sweep comes with the first page and stays: the axis spans it from the start', () => {
  const first = page({ offset: 0, points: 1, columns: { length: [0], i: [5], q: [7] }, x_range: [0, 2e-7] });
  let data = mergeDataPage(emptyData(), first);
  assert.deepEqual(data.xRange, [0, 2e-7]);
  data = mergeDataPage(data, page({ offset: 1, points: 2, columns: { length: [1e-8], i: [6], q: [8] }, x_range: [0, 2e-7] }));
  assert.deepEqual(data.xRange, [0, 2e-7]);
  assert.deepEqual(extent(data.columns.length, data.xRange ?? []), [0, 2e-7]);
  assert.equal(mergeDataPage(emptyData(), page({ columns: {} })).xRange, null);   // not said: none
});
