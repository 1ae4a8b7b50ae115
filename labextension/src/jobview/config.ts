/**
 * What produced the job: the experiment and its config snapshot, and a button that puts the
 * exact submission (`q.submit(...)`, from the server) on the clipboard.
 */
import { Widget } from '@lumino/widgets';

import { getSubmission, type IJobViewDetails } from '../api';
import { formatValue } from './scales';

/**
 * Put text on the clipboard: the Clipboard API where the page is a secure context, else a
 * selected textarea and the older copy command (an http:// lab on another host).
 */
export async function copyText(text: string): Promise<void> {
  if (window.isSecureContext && navigator.clipboard) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  try {
    area.select();
    if (!document.execCommand('copy')) {
      throw new Error('the browser refused to copy');
    }
  } finally {
    area.remove();
  }
}

type Dict = Record<string, unknown>;

function dictOf(value: unknown): Dict {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Dict) : {};
}

export interface ISnapshotView {
  target: string | null;
  /** The config the run used (defaults included, from the run's snapshot when there is one). */
  config: Dict | null;
  /** The keys the submission gave (the others are the experiment's defaults). */
  submitted: Set<string>;
  /** What else says what produced the data: station, code, environment, where it ran. */
  provenance: [string, string][];
}

/** What produced the job, from the run's snapshot, else from the job's own `experiment`. */
export function snapshotOf(details: IJobViewDetails): ISnapshotView {
  const own = dictOf(details.job.experiment);
  const snap = dictOf(details.snapshot);
  const submittedConfig = dictOf(snap.submitted_config ?? own.config);
  const config = (snap.config ?? details.config ?? own.config ?? null) as Dict | null;
  const code = dictOf(snap.code);
  const git = dictOf(code.git);
  const env = dictOf(snap.environment);
  const station = dictOf(snap.station);
  const sha = code.source_sha256 ? `sha256 ${String(code.source_sha256).slice(0, 12)}` : '';
  const commit = git.commit
    ? `git ${String(git.commit).slice(0, 10)}${git.file_modified ? ' (modified)' : ''}`
    : '';
  const rows: [string, string][] = [
    ['Station', String(station.name ?? '')],
    ['Station config', stationConfigText(dictOf(snap.station_origin))],
    ['Code', [code.file, sha, commit].filter(Boolean).join(', ')],
    ['Ran as', snap.run_by ? `${snap.run_by}@${snap.run_on ?? ''}` : ''],
    ['Versions', env.jobmagics ? `jobmagics ${env.jobmagics}, python ${env.python ?? '?'}, ` +
      `numpy ${env.numpy ?? '?'}, h5py ${env.h5py ?? '?'}` : '']
  ];
  return {
    target:
      (snap.experiment as string | undefined) ??
      details.experiment ??
      (own.target as string | undefined) ??
      null,
    config: config && Object.keys(config).length ? config : null,
    submitted: new Set(Object.keys(submittedConfig)),
    provenance: rows.filter(([, value]) => value)
  };
}

/**
 * Where the station's settings came from (the snapshot's `station_origin`): the version of
 * the saved config it used, the factory that made it, or the worker kernel that held it.
 */
export function stationConfigText(origin: Dict): string {
  if (origin.config) {
    const sha = origin.sha256 ? ` (sha256 ${String(origin.sha256).slice(0, 12)})` : '';
    return `${String(origin.config)} v${String(origin.version ?? '?')}${sha}`;
  }
  if (origin.factory) {
    return `made by ${String(origin.factory)}`;
  }
  if (origin.provided_by) {
    return `held by the ${String(origin.provided_by)}`;
  }
  return origin.simulated ? 'simulated, its defaults (no station config saved)' : '';
}

function row(key: string, value: string, note = ''): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.textContent = key;
  const td = document.createElement('td');
  td.textContent = value;
  tr.append(th, td);
  if (note) {
    const small = document.createElement('td');
    small.className = 'jm-config-note';
    small.textContent = note;
    tr.appendChild(small);
  }
  return tr;
}

export class ConfigSection extends Widget {
  constructor(private readonly _jobId: string) {
    super();
    this.addClass('jm-config');
    this.node.innerHTML =
      '<h3 class="jm-section-title">Submission</h3>' +
      '<div class="jm-experiment" data-role="experiment" style="display:none"></div>' +
      '<table class="jm-config-table" data-role="config"></table>' +
      '<table class="jm-provenance" data-role="provenance"></table>' +
      '<div class="jm-copy-row"><button class="jp-Button jp-mod-styled jm-copy-submission" ' +
      'data-role="copy-submission">Copy as q.submit(...)</button>' +
      '<span class="jm-copy-status" data-role="copy-status"></span></div>';
    const button = this.node.querySelector('.jm-copy-submission') as HTMLButtonElement;
    button.addEventListener('click', () => void this._copy(button));
  }

  render(details: IJobViewDetails): void {
    const view = snapshotOf(details);
    const experiment = this.node.querySelector('.jm-experiment') as HTMLElement;
    experiment.textContent = view.target ? `Experiment ${view.target}` : '';
    experiment.style.display = view.target ? '' : 'none';
    const defaults = view.submitted.size > 0 || details.snapshot;
    const rows = Object.entries(view.config ?? {}).map(([key, value]) => {
      const shown = value === null ? 'None' : formatValue(value);
      return row(key, shown, defaults && !view.submitted.has(key) ? 'default' : '');
    });
    (this.node.querySelector('.jm-config-table') as HTMLElement).replaceChildren(...rows);
    (this.node.querySelector('.jm-provenance') as HTMLElement).replaceChildren(
      ...view.provenance.map(([key, value]) => row(key, value))
    );
  }

  private async _copy(button: HTMLButtonElement): Promise<void> {
    const status = this.node.querySelector('.jm-copy-status') as HTMLElement;
    button.disabled = true;
    try {
      const { python } = await getSubmission(this._jobId);
      await copyText(python);
      status.textContent = 'Copied';
      this.node.dataset.copied = 'true';
    } catch (error) {
      status.textContent = `Could not copy: ${(error as Error).message}`;
    } finally {
      button.disabled = false;
      window.setTimeout(() => {
        if (status.textContent === 'Copied') {
          status.textContent = '';
        }
      }, 6000);
    }
  }
}
