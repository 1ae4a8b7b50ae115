/**
 * Arrays in the sidebar: one expandable row each (`li.jm-array[data-array-id]`)
 * with its name, id, a stacked bar of its elements per state, how many ended,
 * elapsed time, and cancel / retry of the whole array. Expanding a row fetches
 * its elements (`GET arrays/<id>`; under a one-state filter, those in that
 * state), a page of 100 at a time behind a "more" button; they are job rows,
 * which the panel opens and acts on as any job.
 */
import { Notification } from '@jupyterlab/apputils';
import { caretDownIcon, caretRightIcon, refreshIcon, stopIcon } from '@jupyterlab/ui-components';

import {
  actOnArray,
  getArray,
  type IArrayRow,
  type IJobRow,
  type IWhoAmI,
  type JobAction,
  MAX_PAGE
} from './api';
import { arrayProgressText, arraySegments, formatAge, formatTiming } from './format';
import { createJobRow, updateJobRow } from './jobrow';
import { keptRows, placeRow } from './keyed_rows';
import { ACTIVE_STATES, RETRYABLE_STATES } from './states';

/** Elements fetched per "more". */
export const ELEMENTS_PAGE = 100;

/** The elements of an expanded array, as far as they were fetched. */
interface IExpanded {
  elements: IJobRow[];
  total: number;
  loading: boolean;
  error: string;
  /** The states they were fetched in ("": every state). */
  states: string;
}

export interface IArrayListOptions {
  /** The list this controller owns (its rows are `li[data-array-id]`). */
  list: HTMLElement;
  openJob: (id: string) => void;
  /** Ask the model for a refresh (after an action). */
  refresh: () => void;
  me: () => IWhoAmI | null;
  /** The states of the elements an expanded array lists (null: every state). */
  states?: () => readonly string[] | null;
}

export class ArrayList {
  constructor(options: IArrayListOptions) {
    this._list = options.list;
    this._openJob = options.openJob;
    this._refresh = options.refresh;
    this._me = options.me;
    this._states = options.states ?? (() => null);
    this._list.addEventListener('click', event => this._onClick(event));
    this._list.addEventListener('keydown', event => {
      const target = event.target as HTMLElement;
      if (event.key === 'Enter' && target.matches('li[data-array-id]')) {
        this.toggle(target.dataset.arrayId!);
      }
    });
  }

  /** Show `arrays` (keyed update: rows, and their expanded element lists, are kept). */
  render(arrays: IArrayRow[], now: number): void {
    this._arrays = new Map(arrays.map(a => [a.id, a]));
    const states = this._statesKey();
    for (const [id, expanded] of Array.from(this._expanded)) {
      if (!this._arrays.has(id)) {
        this._expanded.delete(id);
      } else if (expanded.states !== states) {
        this._expand(id); // the filter changed: list the elements it shows
      }
    }
    const existing = new Map<string, HTMLElement>();
    for (const child of Array.from(this._list.children) as HTMLElement[]) {
      const id = child.dataset.arrayId;
      if (id && this._arrays.has(id)) {
        existing.set(id, child);
      } else {
        child.remove();
      }
    }
    arrays.forEach((array, index) => {
      const row = existing.get(array.id) ?? this._createRow();
      this._updateRow(row, array, now);
      const at = this._list.children[index];
      if (at !== row) {
        this._list.insertBefore(row, at ?? null);
      }
    });
    this._list.style.display = arrays.length ? '' : 'none';
  }

  /** Fetch the shown elements of every expanded array again (the queue moved). */
  reload(): void {
    for (const id of this._expanded.keys()) {
      void this._fetch(id, true);
    }
  }

  /** Expand or collapse an array's element list. */
  toggle(id: string): void {
    if (this._expanded.has(id)) {
      this._expanded.delete(id);
    } else {
      this._expand(id);
    }
    this._rerender(id);
  }

  /**
   * Expand the row of array `id`, scroll it into view and mark it for a moment
   * (a notification's "Show"). False when this list does not show it.
   */
  reveal(id: string): boolean {
    const row = this._row(id);
    if (!row) {
      return false;
    }
    if (!this._expanded.has(id)) {
      this.toggle(id);
    }
    row.scrollIntoView({ block: 'nearest' });
    row.focus({ preventScroll: true });
    row.classList.remove('jm-mod-flash');
    void row.offsetWidth; // (a reflow, so that the highlight starts again)
    row.classList.add('jm-mod-flash');
    return true;
  }

  private _expand(id: string): void {
    this._expanded.set(id, {
      elements: [],
      total: 0,
      loading: true,
      error: '',
      states: this._statesKey()
    });
    void this._fetch(id, false);
  }

  private _statesKey(): string {
    return (this._states() ?? []).join(',');
  }

  private _row(id: string): HTMLElement | null {
    return this._list.querySelector(`li[data-array-id="${CSS.escape(id)}"]`);
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    if (target.closest('li[data-job-id]')) {
      return; // an element's own row: the panel opens it and acts on it
    }
    const row = target.closest('li[data-array-id]') as HTMLElement | null;
    if (!row) {
      return;
    }
    const id = row.dataset.arrayId!;
    const button = target.closest('button') as HTMLButtonElement | null;
    if (button?.dataset.arrayAction) {
      event.stopPropagation();
      if (!button.disabled) {
        void this._act(id, button.dataset.arrayAction as JobAction, button);
      }
    } else if (button?.dataset.role === 'more-elements') {
      void this._fetch(id, false);
    } else if (target.closest('.jm-array-head')) {
      this.toggle(id);
    }
  }

  /**
   * Fetch elements: the next page (`again`: false), or every page shown so
   * far again (`again`: true), in requests of at most MAX_PAGE.
   */
  private async _fetch(id: string, again: boolean): Promise<void> {
    const state = this._expanded.get(id);
    if (!state) {
      return;
    }
    const start = again ? 0 : state.elements.length;
    const wanted = again ? Math.max(state.elements.length, ELEMENTS_PAGE) : ELEMENTS_PAGE;
    if (!again) {
      state.loading = true;
      this._rerender(id);
    }
    try {
      const found: IJobRow[] = [];
      let total = state.total;
      while (found.length < wanted) {
        const limit = Math.min(MAX_PAGE, wanted - found.length);
        const states = state.states ? state.states.split(',') : null;
        const page = await getArray(id, start + found.length, limit, states);
        found.push(...page.elements);
        total = page.total;
        if (page.elements.length < limit) {
          break;
        }
      }
      const now = this._expanded.get(id);
      if (now !== state) {
        return; // collapsed (or expanded anew) meanwhile
      }
      // (a "more" that arrived meanwhile keeps its rows after the ones read again)
      state.elements = again
        ? found.concat(state.elements.slice(found.length))
        : state.elements.concat(found);
      state.total = total;
      state.error = '';
    } catch (error) {
      state.error = `Could not list the elements: ${(error as Error).message}`;
    }
    if (!again) {
      state.loading = false;
    }
    this._rerender(id);
  }

  private async _act(id: string, action: JobAction, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await actOnArray(id, action);
    } catch (error) {
      Notification.error(`Could not ${action} ${id}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    } finally {
      this._refresh();
    }
  }

  private _rerender(id: string): void {
    const array = this._arrays.get(id);
    const row = this._row(id);
    if (array && row) {
      this._updateRow(row, array, Date.now() / 1000);
    }
  }

  private _createRow(): HTMLElement {
    const row = document.createElement('li');
    row.className = 'jm-job jm-array';
    row.tabIndex = 0;
    row.innerHTML =
      '<div class="jm-array-head">' +
      '<div class="jm-row1">' +
      '<span class="jm-expand"></span>' +
      '<span class="jm-badge"></span>' +
      '<span class="jm-name"></span>' +
      '<span class="jm-actions">' +
      '<button class="jm-icon-button jp-Button jp-mod-minimal" data-array-action="cancel"></button>' +
      '<button class="jm-icon-button jp-Button jp-mod-minimal" data-array-action="retry"></button>' +
      '</span></div>' +
      '<div class="jm-row2"><div class="jm-stack" data-role="stack"></div>' +
      '<span class="jm-stage" data-role="array-progress"></span></div>' +
      '<div class="jm-row3"><span class="jm-user"></span><span class="jm-id"></span>' +
      '<span class="jm-time"></span></div>' +
      '</div>' +
      '<ul class="jm-list jm-elements" data-role="elements"></ul>';
    stopIcon.element({ container: row.querySelector('[data-array-action="cancel"]') as HTMLElement });
    refreshIcon.element({
      container: row.querySelector('[data-array-action="retry"]') as HTMLElement
    });
    return row;
  }

  private _updateRow(row: HTMLElement, array: IArrayRow, now: number): void {
    const me = this._me();
    const expanded = this._expanded.get(array.id);
    row.dataset.arrayId = array.id;
    row.dataset.state = array.state;
    row.dataset.user = array.user;
    row.classList.toggle('jm-mod-mine', !!me && array.user === me.user);
    row.classList.toggle('jm-mod-expanded', !!expanded);
    row.setAttribute('aria-expanded', expanded ? 'true' : 'false');
    const caret = row.querySelector('.jm-expand') as HTMLElement;
    if (caret.dataset.open !== String(!!expanded)) {
      caret.dataset.open = String(!!expanded);
      caret.innerHTML = '';
      (expanded ? caretDownIcon : caretRightIcon).element({ container: caret, tag: 'span' });
    }
    const badge = row.querySelector('.jm-badge') as HTMLElement;
    badge.className = `jm-badge jm-state-${array.state}`;
    badge.textContent = array.state;
    const name = row.querySelector('.jm-name') as HTMLElement;
    name.textContent = `${array.name || 'array'} [${array.size.toLocaleString('en-US')}]`;
    name.title = `array ${array.id}: ${array.size} ${array.kind} elements` +
      (array.parallel ? `, at most ${array.parallel} at once` : '');
    this._renderStack(row.querySelector('[data-role="stack"]') as HTMLElement, array);
    (row.querySelector('[data-role="array-progress"]') as HTMLElement).textContent =
      arrayProgressText(array.size, array.counts);
    (row.querySelector('.jm-user') as HTMLElement).textContent = array.user;
    (row.querySelector('.jm-id') as HTMLElement).textContent = array.id;
    const time = row.querySelector('.jm-time') as HTMLElement;
    time.textContent = formatTiming(array, now);
    time.title = `submitted ${formatAge(array.submitted_at, now)}`;
    this._renderActions(row, array);
    this._renderElements(row.querySelector('[data-role="elements"]') as HTMLElement, expanded, now);
  }

  private _renderStack(stack: HTMLElement, array: IArrayRow): void {
    const segments = arraySegments(array.counts);
    stack.title = segments.map(([state, n]) => `${n} ${state}`).join(', ');
    while (stack.children.length > segments.length) {
      stack.lastElementChild!.remove();
    }
    segments.forEach(([state, count], index) => {
      let segment = stack.children[index] as HTMLElement | undefined;
      if (!segment) {
        segment = document.createElement('span');
        stack.appendChild(segment);
      }
      segment.className = `jm-segment jm-state-${state}`;
      segment.dataset.state = state;
      segment.dataset.count = String(count);
      segment.style.flexGrow = String(count);
      segment.title = `${count.toLocaleString('en-US')} ${state}`;
    });
  }

  private _renderActions(row: HTMLElement, array: IArrayRow): void {
    const active = ACTIVE_STATES.some(s => (array.counts[s] ?? 0) > 0);
    const retryable = RETRYABLE_STATES.some(s => (array.counts[s] ?? 0) > 0);
    const cancel = row.querySelector('[data-array-action="cancel"]') as HTMLButtonElement;
    const retry = row.querySelector('[data-array-action="retry"]') as HTMLButtonElement;
    const only = `Only ${array.user} or a queue admin may`;
    cancel.style.display = active ? '' : 'none';
    cancel.disabled = !array.can_act;
    cancel.title = array.can_act
      ? `Cancel every element of ${array.id} not ended`
      : `${only} cancel this array`;
    retry.style.display = retryable ? '' : 'none';
    retry.disabled = !array.can_act;
    retry.title = array.can_act
      ? `Retry the failed, cancelled and timed-out elements of ${array.id}`
      : `${only} retry this array`;
  }

  private _renderElements(list: HTMLElement, expanded: IExpanded | undefined, now: number): void {
    if (!expanded) {
      list.replaceChildren();
      list.style.display = 'none';
      return;
    }
    list.style.display = '';
    const me = this._me();
    const isFooter = (child: HTMLElement) => child.dataset.role === 'elements-footer';
    const wanted = new Set(expanded.elements.map(job => job.id));
    const existing = keptRows(list, 'jobId', wanted, isFooter);
    const footer = (Array.from(list.children) as HTMLElement[]).find(isFooter) ?? null;
    expanded.elements.forEach((job, index) => {
      const row = existing.get(job.id) ?? createJobRow(this._openJob);
      updateJobRow(row, job, now, me ? me.user : '', me ? me.admin : false);
      const name = row.querySelector('.jm-name') as HTMLElement;
      name.textContent = `[${job.array_index}] ${name.textContent}`;
      placeRow(list, row, index);
    });
    this._renderFooter(list, footer, expanded);
  }

  /** "Show 100 more (150 not shown)" below the elements, or loading / error text. */
  private _renderFooter(list: HTMLElement, footer: HTMLElement | null, expanded: IExpanded): void {
    const left = expanded.total - expanded.elements.length;
    const text = expanded.error
      ? expanded.error
      : expanded.loading
        ? 'Loading elements…'
        : left > 0
          ? `Show ${Math.min(left, ELEMENTS_PAGE)} more (${left.toLocaleString('en-US')} not shown)`
          : '';
    if (!text) {
      footer?.remove();
      return;
    }
    if (!footer) {
      footer = document.createElement('li');
      footer.className = 'jm-more';
      footer.dataset.role = 'elements-footer';
    }
    if (footer.dataset.text !== text) {
      footer.dataset.text = text;
      footer.replaceChildren();
      if (expanded.error || expanded.loading) {
        footer.textContent = text;
      } else {
        const button = document.createElement('button');
        button.className = 'jp-Button jp-mod-minimal jm-more-button';
        button.dataset.role = 'more-elements';
        button.textContent = text;
        footer.appendChild(button);
      }
    }
    if (list.lastElementChild !== footer) {
      list.appendChild(footer);
    }
  }

  private _list: HTMLElement;
  private _openJob: (id: string) => void;
  private _refresh: () => void;
  private _me: () => IWhoAmI | null;
  private _states: () => readonly string[] | null;
  private _arrays = new Map<string, IArrayRow>();
  private _expanded = new Map<string, IExpanded>();
}
