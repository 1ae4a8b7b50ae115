/**
 * Lists redrawn in place by key: a row is kept (and moved only when out of
 * place) while its key is still listed, so that a click is never lost to a
 * re-render. The job history, an array's elements, the workers, the schedules.
 */

/**
 * The rows of `list` keyed by `data-<key>` (`key` as in `dataset`) whose key
 * `wanted` still has, by key. Other rows and unkeyed children ("no jobs", "…
 * and 12 more") are removed, except the children `spare` names.
 */
export function keptRows(
  list: HTMLElement,
  key: string,
  wanted: ReadonlySet<string>,
  spare: (child: HTMLElement) => boolean = () => false
): Map<string, HTMLElement> {
  const kept = new Map<string, HTMLElement>();
  for (const child of Array.from(list.children) as HTMLElement[]) {
    const id = child.dataset[key];
    if (id !== undefined && wanted.has(id)) {
      kept.set(id, child);
    } else if (!spare(child)) {
      child.remove();
    }
  }
  return kept;
}

/** Put `row` at place `index` of `list`, moving it only when it is elsewhere. */
export function placeRow(list: HTMLElement, row: HTMLElement, index: number): void {
  const at = list.children[index];
  if (at !== row) {
    list.insertBefore(row, at ?? null);
  }
}
