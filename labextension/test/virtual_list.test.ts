import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { covers, fetchSpan, visibleRange } from '../src/virtual_list';

test('the rows in view at the top of a long list, with the overscan below them', () => {
  // 600 px of viewport over rows of 60 px: rows 0..9 show; 8 more rendered below.
  assert.deepEqual(visibleRange(0, 600, 60, 1000, 8), { start: 0, end: 18 });
});

test('the rows in view after scrolling, with the overscan on both sides', () => {
  // The viewport's top is 6,000 px below the list's top: rows 100..110 show.
  assert.deepEqual(visibleRange(6000, 600, 60, 1000, 8), { start: 92, end: 118 });
});

test('a list that starts below the top of the viewport shows from its first row', () => {
  // The list starts 400 px down a 600 px viewport: 200 px of it (4 rows) show.
  assert.deepEqual(visibleRange(-400, 600, 50, 1000, 2), { start: 0, end: 6 });
});

test('a list entirely below the viewport or hidden renders nothing', () => {
  assert.deepEqual(visibleRange(-700, 600, 50, 1000, 2), { start: 0, end: 0 });
  assert.deepEqual(visibleRange(0, 0, 50, 1000, 2), { start: 0, end: 0 });
  assert.deepEqual(visibleRange(0, 600, 50, 0, 2), { start: 0, end: 0 });
});

test('the end of the list clamps the range', () => {
  assert.deepEqual(visibleRange(4800, 600, 50, 100, 4), { start: 92, end: 100 });
  assert.deepEqual(visibleRange(99999, 600, 50, 100, 4), { start: 100, end: 100 });
});

test('the span fetched is aligned on pages and covers the rows in view', () => {
  assert.deepEqual(fetchSpan({ start: 0, end: 18 }, 50, 1000), { offset: 0, limit: 50 });
  assert.deepEqual(fetchSpan({ start: 92, end: 118 }, 50, 1000), { offset: 50, limit: 100 });
  assert.deepEqual(fetchSpan({ start: 0, end: 0 }, 50, 1000), { offset: 0, limit: 50 });
  assert.deepEqual(fetchSpan({ start: 0, end: 5000 }, 50, 1000), { offset: 0, limit: 1000 });
});

test('what was fetched covers the rows in view, or a fetch is due', () => {
  assert.equal(covers({ start: 0, end: 50 }, { start: 0, end: 18 }), true);
  assert.equal(covers({ start: 0, end: 50 }, { start: 40, end: 60 }), false);
  assert.equal(covers({ start: 50, end: 150 }, { start: 20, end: 60 }), false);
});
