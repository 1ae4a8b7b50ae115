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

/** The experiment's target and config, from the details or the job's own `experiment`. */
export function snapshotOf(
  details: IJobViewDetails
): { target: string | null; config: Record<string, unknown> | null } {
  const own = (details.job.experiment ?? {}) as { target?: string; config?: Record<string, unknown> };
  return {
    target: details.experiment ?? own.target ?? null,
    config: details.config ?? own.config ?? null
  };
}

export class ConfigSection extends Widget {
  constructor(private readonly _jobId: string) {
    super();
    this.addClass('jm-config');
    this.node.innerHTML =
      '<h3 class="jm-section-title">Submission</h3>' +
      '<div class="jm-experiment" data-role="experiment" style="display:none"></div>' +
      '<table class="jm-config-table" data-role="config"></table>' +
      '<div class="jm-copy-row"><button class="jp-Button jp-mod-styled jm-copy-submission" ' +
      'data-role="copy-submission">Copy as q.submit(...)</button>' +
      '<span class="jm-copy-status" data-role="copy-status"></span></div>';
    const button = this.node.querySelector('.jm-copy-submission') as HTMLButtonElement;
    button.addEventListener('click', () => void this._copy(button));
  }

  render(details: IJobViewDetails): void {
    const { target, config } = snapshotOf(details);
    const experiment = this.node.querySelector('.jm-experiment') as HTMLElement;
    experiment.textContent = target ? `Experiment ${target}` : '';
    experiment.style.display = target ? '' : 'none';
    const table = this.node.querySelector('.jm-config-table') as HTMLElement;
    const rows = Object.entries(config ?? {}).map(([key, value]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = key;
      const td = document.createElement('td');
      td.textContent = formatValue(value);
      tr.append(th, td);
      return tr;
    });
    table.replaceChildren(...rows);
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
