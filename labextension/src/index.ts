/**
 * jobmagics JupyterLab extension: the "Jobs" sidebar, job detail views,
 * "Submit cell as job", and notifications when your jobs end.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommandToolbarButton } from '@jupyterlab/ui-components';

import { submitJob } from './api';
import { jobsIcon } from './icons';
import { JobView } from './logview';
import { JobsModel } from './model';
import { JobNotifier } from './notify';
import { OutputsClearedWatcher } from './outputs_cleared';
import { JobsPanel } from './panel';

export namespace CommandIDs {
  export const openPanel = 'jobmagics:open-panel';
  export const openJob = 'jobmagics:open-job';
  export const submitCell = 'jobmagics:submit-cell';
  export const refresh = 'jobmagics:refresh';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jobmagics:plugin',
  description: 'The "Jobs" sidebar of the jobmagics lab job queue.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker, IRenderMimeRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const { commands, shell } = app;
    const model = new JobsModel();
    const views = new Map<string, MainAreaWidget<JobView>>();

    const openJob = (id: string) => {
      let view = views.get(id);
      if (!view || view.isDisposed) {
        const content = new JobView(id, model, rendermime);
        view = new MainAreaWidget({ content });
        view.id = `jobmagics-job-view-${id}`;
        view.title.label = id;
        view.title.icon = jobsIcon;
        view.title.closable = true;
        views.set(id, view);
        view.disposed.connect(() => views.delete(id));
        shell.add(view, 'main');
      }
      shell.activateById(view.id);
    };

    const panel = new JobsPanel({ model, openJob });
    shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, 'jobmagics-jobs');
    }
    new JobNotifier(model, commands, CommandIDs.openJob, id => {
      shell.activateById(panel.id);
      panel.showArray(id);
    });
    model.start();

    commands.addCommand(CommandIDs.openPanel, {
      label: 'Show Jobs Panel',
      caption: 'Show the jobmagics queue in the left sidebar',
      icon: jobsIcon,
      execute: () => shell.activateById(panel.id)
    });

    commands.addCommand(CommandIDs.openJob, {
      label: args => (args.id ? `Show Job ${args.id}` : 'Show Job…'),
      execute: args => {
        const id = args.id as string | undefined;
        if (id) {
          openJob(id);
        }
      }
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Jobs',
      execute: () => model.refresh()
    });

    const currentCodeCell = () => {
      const current = notebooks?.currentWidget;
      const cell = current?.content.activeCell;
      if (!current || !cell || cell.model.type !== 'code') {
        return null;
      }
      return { panel: current, cell, index: current.content.activeCellIndex };
    };

    commands.addCommand(CommandIDs.submitCell, {
      label: 'Submit Cell as Job',
      caption: 'Run the current cell as a python job in the jobmagics queue',
      icon: jobsIcon,
      isEnabled: () => currentCodeCell() !== null,
      execute: async () => {
        const target = currentCodeCell();
        if (!target) {
          Notification.warning('Select a code cell to submit it as a job.', { autoClose: 4000 });
          return;
        }
        const code = target.cell.model.sharedModel.getSource();
        if (!code.trim()) {
          Notification.warning('The cell is empty: nothing to submit.', { autoClose: 4000 });
          return;
        }
        const path = target.panel.context.localPath;
        try {
          const job = await submitJob({
            code,
            name: `${PathExt.basename(path)} cell ${target.index + 1}`,
            cwd: PathExt.dirname(path)
          });
          model.refresh();
          Notification.success(`Submitted ${job.id}`, {
            autoClose: 5000,
            actions: [
              { label: 'Show details', callback: () => openJob(job.id) }
            ]
          });
          return job.id;
        } catch (error) {
          Notification.error(`Could not submit the cell: ${(error as Error).message}`, {
            autoClose: 8000
          });
        }
      }
    });

    if (palette) {
      const category = 'Jobs';
      palette.addItem({ command: CommandIDs.openPanel, category });
      palette.addItem({ command: CommandIDs.submitCell, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }

    app.contextMenu.addItem({
      command: CommandIDs.submitCell,
      selector: '.jp-Notebook .jp-CodeCell',
      rank: 20
    });

    if (notebooks) {
      const addButton = (nb: NotebookPanel) => {
        const button = new CommandToolbarButton({
          commands,
          id: CommandIDs.submitCell,
          label: ''
        });
        button.addClass('jm-submit-cell-button');
        nb.toolbar.insertAfter('cellType', 'jobmagics-submit-cell', button);
      };
      notebooks.widgetAdded.connect((_, nb) => addButton(nb));
      notebooks.forEach(addButton);
      notebooks.activeCellChanged.connect(() => commands.notifyCommandChanged(CommandIDs.submitCell));
      notebooks.currentChanged.connect(() => commands.notifyCommandChanged(CommandIDs.submitCell));
      // Live job widgets whose outputs are cleared stop their background work in the kernel.
      new OutputsClearedWatcher(notebooks);
    }
  }
};

export default plugin;
