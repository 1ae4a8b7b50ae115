/**
 * An experiment's data as the browser holds it: pages from `jobs/<id>/data` merged, so the
 * view asks only for the points after those it has. Pure module, unit-tested.
 */
import type { DataColumn, IDataPage } from '../api';

export interface IPlotData {
  /** Every point received so far, per column (all columns as long as `count`). */
  columns: Record<string, DataColumn>;
  count: number;
  x: string | null;
  y: string[];
  /** The planned sweep's first and last x: the axis spans it from the first point. */
  xRange: [number, number] | null;
  units: Record<string, string>;
  summary: Record<string, unknown> | null;
  fit: Record<string, number[]> | null;
  /** No more points will come. */
  complete: boolean;
}

export function emptyData(): IPlotData {
  return {
    columns: {},
    count: 0,
    x: null,
    y: [],
    xRange: null,
    units: {},
    summary: null,
    fit: null,
    complete: false
  };
}

function pageLength(page: IDataPage): number {
  return Math.max(0, ...Object.values(page.columns).map(c => c.length));
}

function padded(column: DataColumn | undefined, length: number): DataColumn {
  const out = (column ?? []).slice(0, length);
  while (out.length < length) {
    out.push(null);
  }
  return out;
}

/**
 * The data after one more page. A page from where the held points end is appended; one from
 * earlier overlaps (kept from the page); a file with fewer points than held was rewritten (a
 * retry's new attempt): start over. A page beyond the held points (a gap) is ignored: the
 * next request asks from `count` again.
 */
export function mergeDataPage(held: IPlotData, page: IDataPage): IPlotData {
  const meta = {
    x: page.x,
    y: page.y,
    xRange: page.x_range ?? null,
    units: page.units,
    summary: page.summary,
    fit: page.fit
  };
  if (!page.exists) {
    return { ...emptyData(), ...meta };
  }
  const rewritten = page.points < held.count;
  const base = rewritten ? emptyData() : held;
  if (page.offset > base.count || (rewritten && page.offset > 0)) {
    return { ...base, ...meta, complete: false };
  }
  const received = pageLength(page);
  const count = page.offset + received;
  const names = new Set([...Object.keys(base.columns), ...Object.keys(page.columns)]);
  const columns: Record<string, DataColumn> = {};
  for (const name of names) {
    const kept = padded(base.columns[name], page.offset);
    columns[name] = kept.concat(padded(page.columns[name], received));
  }
  return {
    columns,
    count,
    ...meta,
    complete: page.complete && count >= page.points
  };
}

/** The offset of the next request. */
export function nextOffset(data: IPlotData): number {
  return data.count;
}
