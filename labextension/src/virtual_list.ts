/**
 * A virtualised list: of `count` rows of one fixed height, only those in view
 * (and a few around them) are in the DOM, between two spacers that stand for
 * the rest. Rows are keyed: a row that stays in view is updated in place,
 * never rebuilt, so a click is never lost to a re-render and a change of ten
 * jobs touches ten rows. The window math is pure and unit-tested.
 */

/** Rows rendered beyond each edge of the view, so a short scroll shows no gap. */
export const OVERSCAN = 8;

export interface IRange {
  /** First index (inclusive). */
  start: number;
  /** Last index (exclusive). */
  end: number;
}

/**
 * The rows of a list to render: `offset` is how far the viewport's top is below
 * the list's top (px, negative while the list starts lower down), `viewport`
 * the viewport's height.
 */
export function visibleRange(
  offset: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan: number = OVERSCAN
): IRange {
  if (count <= 0 || rowHeight <= 0 || viewport <= 0 || offset + viewport <= 0) {
    return { start: 0, end: 0 };
  }
  const first = Math.floor(Math.max(0, offset) / rowHeight);
  const last = Math.ceil((offset + viewport) / rowHeight);
  const start = Math.min(count, Math.max(0, first - overscan));
  const end = Math.min(count, Math.max(start, last + overscan));
  return { start, end };
}

/**
 * The page-aligned span of rows to fetch so that `range` is covered: from a
 * multiple of `page` below it to one above it (at most `max` rows), so that
 * scrolling a little fetches nothing new.
 */
export function fetchSpan(range: IRange, page: number, max: number): { offset: number; limit: number } {
  const offset = Math.floor(range.start / page) * page;
  const end = Math.max(offset + page, Math.ceil(range.end / page) * page);
  return { offset, limit: Math.min(max, end - offset) };
}

/** Whether the rows `[start, end)` held from `held.start` cover `wanted`. */
export function covers(held: IRange, wanted: IRange): boolean {
  return wanted.start >= held.start && wanted.end <= held.end;
}

export interface IVirtualListOptions<T> {
  /** The list element (`ul`): the spacers and the rows in view are its children. */
  list: HTMLElement;
  /** The scrolling ancestor of the list. */
  scroller: HTMLElement;
  /** Px per row (rows are given this height). */
  rowHeight: number;
  key: (item: T) => string;
  create: () => HTMLElement;
  /** Show `item` in `row`; `fresh`: the row was just made or showed another item. */
  update: (row: HTMLElement, item: T, fresh: boolean) => void;
  /** A row whose item is not fetched yet (shown as a placeholder). */
  placeholder?: () => HTMLElement;
  /** Called when the rows in view change (after a scroll or a resize). */
  onRange?: (range: IRange) => void;
}

/** The rows of `count` items in view of `scroller`, rendered on scroll and on demand. */
export class VirtualList<T> {
  constructor(options: IVirtualListOptions<T>) {
    this._o = options;
    this._top = spacer('top');
    this._bottom = spacer('bottom');
    options.list.classList.add('jm-virtual');
    options.list.append(this._top, this._bottom);
    this._onScroll = () => this._schedule();
    options.scroller.addEventListener('scroll', this._onScroll, { passive: true });
    this._resize = new ResizeObserver(() => this._schedule());
    this._resize.observe(options.scroller);
  }

  /** The rows in view now (and the overscan): the model fetches those. */
  get range(): IRange {
    return this._range;
  }

  /** Show `count` items, `at(i)` being item i (undefined: not fetched yet). */
  render(count: number, at: (index: number) => T | undefined, footer: string, empty: string): void {
    this._count = count;
    this._at = at;
    this._footer = footer;
    this._empty = empty;
    this._draw();
  }

  /** Update the rows in view in place (e.g. their elapsed time), nothing else. */
  forEachRow(fn: (row: HTMLElement, item: T) => void): void {
    for (const [key, row] of this._rows) {
      const item = this._items.get(key);
      if (item !== undefined) {
        fn(row, item);
      }
    }
  }

  dispose(): void {
    this._o.scroller.removeEventListener('scroll', this._onScroll);
    this._resize.disconnect();
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
    }
  }

  private _schedule(): void {
    if (this._frame === null) {
      this._frame = requestAnimationFrame(() => {
        this._frame = null;
        this._draw();
      });
    }
  }

  /** Where the viewport is over the list: the range of rows to render. */
  private _measure(): IRange {
    const { list, scroller, rowHeight } = this._o;
    const viewport = scroller.clientHeight;
    const offset = scroller.getBoundingClientRect().top - list.getBoundingClientRect().top;
    return visibleRange(offset, viewport, rowHeight, this._count);
  }

  private _draw(): void {
    const { rowHeight } = this._o;
    const range = this._measure();
    this._top.style.height = `${range.start * rowHeight}px`;
    this._bottom.style.height = `${(this._count - range.end) * rowHeight}px`;
    const wanted: [string, T | undefined, number][] = [];
    for (let i = range.start; i < range.end; i++) {
      const item = this._at(i);
      wanted.push([item === undefined ? `#${i}` : this._o.key(item), item, i]);
    }
    const keep = new Set(wanted.map(w => w[0]));
    for (const [key, row] of this._rows) {
      if (!keep.has(key)) {
        row.remove();
        this._rows.delete(key);
        this._items.delete(key);
      }
    }
    let before: Element = this._top;
    for (const [key, item, index] of wanted) {
      const row = this._row(key, item, index);
      if (before.nextElementSibling !== row) {
        before.after(row);
      }
      before = row;
    }
    this._drawExtras();
    const moved = range.start !== this._range.start || range.end !== this._range.end;
    this._range = range;
    if (moved && this._o.onRange) {
      this._o.onRange(range);
    }
  }

  /** The row of `key`, made if new, updated if its item changed. */
  private _row(key: string, item: T | undefined, index: number): HTMLElement {
    let row = this._rows.get(key);
    const fresh = !row;
    if (!row) {
      row =
        item === undefined && this._o.placeholder ? this._o.placeholder() : this._o.create();
      row.style.height = `${this._o.rowHeight}px`;
      this._rows.set(key, row);
    }
    if (item === undefined) {
      row.dataset.index = String(index);
    } else if (fresh || this._items.get(key) !== item) {
      this._o.update(row, item, fresh);
      this._items.set(key, item);
    }
    return row;
  }

  /** The footer ("… and 7 more waiting") and the empty text, after the bottom spacer. */
  private _drawExtras(): void {
    const text = this._count === 0 && !this._footer ? this._empty : this._footer;
    if (!text) {
      this._extra?.remove();
      this._extra = null;
      return;
    }
    if (!this._extra) {
      this._extra = document.createElement('li');
    }
    this._extra.className = this._footer ? 'jm-more' : 'jm-empty';
    if (this._footer) {
      this._extra.dataset.role = 'more';
    } else {
      delete this._extra.dataset.role;
    }
    this._extra.textContent = text;
    if (this._bottom.nextElementSibling !== this._extra) {
      this._bottom.after(this._extra);
    }
  }

  private _o: IVirtualListOptions<T>;
  private _top: HTMLElement;
  private _bottom: HTMLElement;
  private _extra: HTMLElement | null = null;
  private _rows = new Map<string, HTMLElement>();
  private _items = new Map<string, T>();
  private _count = 0;
  private _at: (index: number) => T | undefined = () => undefined;
  private _footer = '';
  private _empty = '';
  private _range: IRange = { start: 0, end: 0 };
  private _frame: number | null = null;
  private _onScroll: () => void;
  private _resize: ResizeObserver;
}

function spacer(which: string): HTMLElement {
  const li = document.createElement('li');
  li.className = 'jm-spacer';
  li.dataset.spacer = which;
  li.setAttribute('aria-hidden', 'true');
  return li;
}

/**
 * The new rows, each one that did not change replaced by the object shown
 * before: the list redraws a row only when its object changed.
 */
export function keepSame<T extends { id: string }>(before: T[], after: T[]): T[] {
  const old = new Map(before.map(j => [j.id, j]));
  return after.map(j => {
    const was = old.get(j.id);
    return was !== undefined && JSON.stringify(was) === JSON.stringify(j) ? was : j;
  });
}
