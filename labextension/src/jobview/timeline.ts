/**
 * A job's state history as a timeline: one entry per state change, with its time, the time
 * since submission, how long the job stayed in that state, and who made the change.
 */
import type { IEvent } from '../api';
import { formatDuration, formatTimestamp } from '../format';
import { isTerminal } from '../states';

export interface ITimelineEntry {
  state: string;
  at: number;
  detail: string;
  /** Who made the change ("alice", a worker's id), read from the event's detail; "" if unsaid. */
  who: string;
  /** "+4.2s": since the first event (the submission). */
  since: string;
  /** How long the job stayed in this state ("1m 05s"; "12s so far" for the current one). */
  stayed: string;
}


/**
 * Who made a change, as the store's details say it: "submitted by alice", "cancel requested by
 * bob", "attempt 2 on worker-host-123" (the worker).
 */
export function whoOf(detail: string | null): string {
  if (!detail) {
    return '';
  }
  const by = /\bby ([^\s,;:()]+)/.exec(detail);
  if (by) {
    return by[1];
  }
  const on = /^attempt \d+ on (\S+)$/.exec(detail);
  return on ? on[1] : '';
}

/** The entries of a job's events, oldest first; `now` (epoch seconds) ends the current state. */
export function timelineEntries(events: readonly IEvent[], now: number): ITimelineEntry[] {
  const start = events.length ? events[0].at : now;
  return events.map((event, i) => {
    const next = events[i + 1];
    let stayed = '';
    if (next) {
      stayed = formatDuration(next.at - event.at);
    } else if (!isTerminal(event.state)) {
      stayed = `${formatDuration(now - event.at)} so far`;
    }
    return {
      state: event.state,
      at: event.at,
      detail: event.detail ?? '',
      who: whoOf(event.detail),
      since: i === 0 ? 'submitted' : `+${formatDuration(event.at - start)}`,
      stayed
    };
  });
}

function cell(className: string, text: string): HTMLElement {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = text;
  return span;
}

/** Draw the timeline into an `<ol>` (one `<li data-state>` per change). */
export function renderTimeline(list: HTMLElement, entries: readonly ITimelineEntry[]): void {
  list.replaceChildren(
    ...entries.map(entry => {
      const li = document.createElement('li');
      li.className = 'jm-timeline-entry';
      li.dataset.state = entry.state;
      // Who made the change is in its detail's words ("held by alice"); kept apart for tools.
      li.dataset.who = entry.who;
      li.append(
        cell('jm-timeline-dot', ''),
        cell('jm-timeline-state', entry.state),
        cell('jm-timeline-at', formatTimestamp(entry.at)),
        cell('jm-timeline-since', entry.since),
        cell('jm-timeline-stayed', entry.stayed),
        cell('jm-timeline-detail', entry.detail)
      );
      li.title = entry.detail;
      return li;
    })
  );
}
