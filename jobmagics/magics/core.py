"""``%job`` and ``%%job``: thin magics that parse, call the client and display.

Every ``JobmagicsError`` (and every bad argument) becomes one ``UsageError`` line, in one
place: ``JobMagics.job``."""
from __future__ import annotations

import inspect
import shlex
import sys
from argparse import ArgumentParser
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import HTML, display

from ..client import Queue
from ..config_files import submitted_config
from ..display import counts_text, jobs_table_html, move_lines, workers_html
from ..errors import JobmagicsError
from ..fields import comma_list, from_arguments
from ..job import Job
from ..job_array import JobArray
from ..model import JobSettings, State
from ..outputs import job_outputs
from ..widgets import live_views
from . import configs, editing, owned_worker
from .configs import ConfigVerbs
from .editing import EditingVerbs
from .parsers import PARSERS, help_text
from .sweeps import sweep_grid

Target = Job | JobArray
for _verbs in (editing, configs):          # their %job subcommands, beside the core ones
    PARSERS.update(_verbs.PARSERS)


def _names(text: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (None: none)."""
    return comma_list([text or ""])


@magics_class
class JobMagics(Magics, EditingVerbs, ConfigVerbs):
    """The notebook face of jobmagics."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        # the jobmagics.views comm target and the re-run hook, before any widget is shown
        live_views.install(live_views.kernel_shell())
        self._queues: dict[str, Queue] = {}
        self._last_job: Target | None = None      # an array too (%%job submit --sweep)

    @line_cell_magic
    def job(self, line: str, cell: str | None = None) -> Any:
        """Send work to the jobmagics queue and watch it live.

        ``%%job submit [options]`` sends the cell; ``%job SUBCOMMAND ...`` does the rest:
        submit, queue, status, logs, output, pull, cancel, retry, hold, release, wait, history,
        worker. The options of each:
        """
        subcommand, _, rest = line.strip().partition(" ")
        if subcommand not in PARSERS:
            names = ", ".join(PARSERS)
            raise UsageError(f"unknown %job subcommand {subcommand!r}; use one of {names}"
                             " (see %job?)" if subcommand else f"%job needs a subcommand: {names}")
        if cell is not None and subcommand != "submit":
            raise UsageError(f"%%job {subcommand} is not a cell magic; use %job {subcommand}")
        args = _parse(subcommand, rest)
        try:
            return getattr(self, f"_cmd_{subcommand}")(args, cell)
        except JobmagicsError as exc:
            raise UsageError(str(exc)) from None

    # ---- helpers ----------------------------------------------------------------------
    def _queue(self, path: str | None) -> Queue:
        key = path or ""
        if key not in self._queues:
            self._queues[key] = Queue(path)
        return self._queues[key]

    def _target(self, args: Any, job_id: str | None = None) -> Target:
        """The job or array named (default: the last one submitted here)."""
        job_id = job_id or getattr(args, "id", None)
        if job_id is None:
            if self._last_job is None:
                raise UsageError("give a job id: no job was submitted from this notebook yet")
            job_id = self._last_job.id
        return self._queue(args.queue).lookup(job_id)

    def _get(self, args: Any, job_id: str | None = None) -> Job:
        """One job: an array is refused, naming an element to give instead."""
        found = self._target(args, job_id)
        if isinstance(found, JobArray):
            raise UsageError(f"{found.id} is an array of {found.size} jobs: give one of its"
                             f" elements, e.g. {found.id}_{_first_index(found)}")
        return found

    def _ids(self, args: Any) -> list[str]:
        ids = [i for part in args.ids for i in _names(part)]
        if ids:
            return ids
        if self._last_job is None:
            raise UsageError("give a job id: no job was submitted from this notebook yet")
        return [self._last_job.id]

    @property
    def _namespace(self) -> dict[str, Any]:
        """The notebook's variables (a magic always runs in a shell)."""
        assert self.shell is not None
        return self.shell.user_ns

    def _remember(self, job: Target, out: str | None) -> None:
        self._last_job = job
        self._namespace["_job"] = job
        if out:
            self._namespace[out] = job

    def _pull_into_notebook(self, job: Target) -> list[str]:
        """A job's pulled variables; an array's: one list per variable, in index order."""
        if isinstance(job, JobArray):
            results = job.results()
            values = {name: [r[name] for r in results] for name in (results[0] if results else {})}
        else:
            values = job.result() or {}
        self._namespace.update(values)
        return sorted(values)

    # ---- submitting -------------------------------------------------------------------
    def _cmd_submit(self, args: Any, cell: str | None) -> Target | None:
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out {args.out!r} is not a valid variable name")
        if args.parallel is not None and not args.sweep:
            raise UsageError("--parallel caps how many jobs of a sweep run at once: give --sweep"
                             " NAME=VALUES too (e.g. --sweep amplitude=0:1:11 --parallel 4)")
        queue = self._queue(args.queue)
        common = from_arguments(JobSettings, args)
        job: Target
        if args.experiment is not None or args.config is not None or args.config_file is not None:
            job = self._submit_experiment(args, cell, queue, common)
        elif args.sweep:
            job = self._submit_sweep(args, cell, queue, common)
        elif cell is not None:
            job = queue.submit(code=self._cell_code(args, cell), push=self._push(args),
                               options={"pull": _names(args.pull)} if args.pull else None, **common)
        else:
            if not args.command:
                raise UsageError("give the command after --, e.g. %job submit -- python fit.py"
                                 " (or use %%job submit to send a cell)")
            if args.push or args.pull:
                raise UsageError("--push and --pull work with %%job submit cells,"
                                 " not with commands")
            job = queue.submit(command=args.command, **common)
        self._remember(job, args.out)
        if job.last_read.backend == "local" and not queue.workers():
            print(f"no worker serves {queue.path} yet: the job waits until one starts"
                  " (%job worker start runs one in this kernel)", file=sys.stderr)
        if not args.wait:
            return job               # the cell's value: its live widget (widgets.live_display)
        display(job)                 # watch it while we wait: it becomes its final card
        return self._finish_wait(job, None)   # (shown once: widgets.live_display)

    @staticmethod
    def _submit_experiment(args: Any, cell: str | None, queue: Queue,
                           common: dict[str, Any]) -> Target:
        """``%job submit --experiment M:C [--config JSON] [--config-file F] [--sweep ...]``:
        checked at submit as from every door (``Queue._spec``)."""
        if args.experiment is None:
            raise UsageError("--config and --config-file are an experiment's: give"
                             " --experiment module:Class too")
        if cell is not None or args.command or args.push or args.pull:
            raise UsageError("%job submit --experiment runs a class on the station: no cell,"
                             " command, --push or --pull (%%job submit sends a cell as python)")
        config = submitted_config(args.config, args.config_file)
        if args.sweep:
            return queue.submit_array(experiment=args.experiment, config=config,
                                      items=sweep_grid(args.sweep), parallel=args.parallel,
                                      **common)
        return queue.submit(experiment=args.experiment, config=config, **common)

    def _submit_sweep(self, args: Any, cell: str | None, queue: Queue,
                      common: dict[str, Any]) -> JobArray:
        """The cell once per point of the sweep, as one array; each point's names are set in
        its job's namespace (with ``index`` and ``item``, the point as a dict)."""
        if cell is None:
            raise UsageError("--sweep runs a cell once per value: use %%job submit --sweep"
                             " NAME=VALUES on a cell (a command array: jobmagics submit --array)")
        code = self._cell_code(args, cell)
        points = sweep_grid(args.sweep)            # read whole before anything is queued
        return queue.submit_array(code=code, items=points, parallel=args.parallel,
                                  push=self._push(args),
                                  options={"pull": _names(args.pull)} if args.pull else None,
                                  **common)

    @staticmethod
    def _cell_code(args: Any, cell: str) -> str:
        if args.command:
            raise UsageError("%%job submit sends the cell body; put no command on the magic line")
        if not cell.strip():
            raise UsageError("the cell is empty: write the job's code below %%job submit")
        return cell

    def _push(self, args: Any) -> dict[str, Any] | None:
        names = _names(args.push)
        missing = [n for n in names if n not in self._namespace]
        if missing:
            raise UsageError(f"cannot push {missing[0]!r}: no such variable in the notebook")
        return {n: self._namespace[n] for n in names} or None

    def _finish_wait(self, job: Target, timeout: float | None) -> Target:
        job.wait(timeout)
        if job.state is not State.COMPLETED:
            reason = (counts_text(job.counts) if isinstance(job, JobArray)
                      else job.error or f"exit code {job.exit_code}")
            raise UsageError(f"{job.id} {job.state.value}: {reason}")
        if _pulls(job):
            print(f"pulled {', '.join(self._pull_into_notebook(job))}")
        return job

    # ---- looking at jobs --------------------------------------------------------------
    def _cmd_queue(self, args: Any, cell: str | None) -> Any:
        from ..widgets import QueuePanel
        return QueuePanel(self._queue(args.queue), history=args.history, limit=args.limit)

    def _cmd_status(self, args: Any, cell: str | None) -> Target:
        """The job (array) as the cell's value: live until it ended, then its final card."""
        return self._target(args)

    def _cmd_logs(self, args: Any, cell: str | None) -> None:
        print(self._get(args).log(), end="")

    def _cmd_output(self, args: Any, cell: str | None) -> None:
        job = self._get(args)
        outputs = job_outputs(job)
        if not outputs:
            print(job.log(), end="")     # command jobs (and jobs run without a kernel): their log
            return
        for output in outputs:
            _show(output)

    def _cmd_history(self, args: Any, cell: str | None) -> None:
        jobs = self._queue(args.queue).history(user=args.user, state=args.state, limit=args.limit)
        display(HTML(jobs_table_html(jobs, "History", "no finished jobs")))

    # ---- acting on jobs ---------------------------------------------------------------
    def _cmd_pull(self, args: Any, cell: str | None) -> None:
        job = self._target(args)
        if not job.done:
            raise UsageError(f"{job.id} is {job.state.value}; wait for it (%job wait {job.id})"
                             " before pulling")
        names = self._pull_into_notebook(job)
        print(f"pulled {', '.join(names)}" if names
              else f"{job.id} has no variables to pull (submit it with --pull)")

    def _act(self, args: Any, action: str, job_line: Any) -> None:
        """All of the ids or none; a line per job, one per array (how many elements moved)."""
        ids = self._ids(args)
        outcomes = self._queue(args.queue).apply(action, ids)
        for line in move_lines(action, ids, outcomes, job_line):
            print(line)

    def _cmd_cancel(self, args: Any, cell: str | None) -> None:
        self._act(args, "cancel", lambda job_id, state: (
            f"{job_id}: cancel requested (it stops within about a second)"
            if state is State.RUNNING else f"{job_id}: {state}"))

    def _cmd_retry(self, args: Any, cell: str | None) -> Target:
        queue = self._queue(args.queue)
        ids = self._ids(args)
        queue.apply("retry", ids)               # all of them or none
        jobs = [queue.lookup(job_id) for job_id in ids]
        for job in jobs[:-1]:
            display(job)
        self._remember(jobs[-1], None)
        return jobs[-1]

    def _cmd_hold(self, args: Any, cell: str | None) -> None:
        self._act(args, "hold", lambda job_id, _: f"{job_id}: held")

    def _cmd_release(self, args: Any, cell: str | None) -> None:
        self._act(args, "release", lambda job_id, state: f"{job_id}: {state}")

    def _cmd_wait(self, args: Any, cell: str | None) -> Target:
        jobs = [self._target(args, job_id) for job_id in self._ids(args)]
        for job in jobs[:-1]:
            job.wait(args.timeout)
        return self._finish_wait(jobs[-1], args.timeout)

    def _cmd_worker(self, args: Any, cell: str | None) -> None:
        queue = self._queue(args.queue)
        if args.action == "start":
            worker = owned_worker.start_worker(queue, args.slots, args.resource, args.startup,
                                               serve_group=args.serve_group)
            whose = ("every group member's jobs (they run as you)" if args.serve_group
                     else "your jobs")
            print(f"worker {worker.pid} runs {whose} on {queue.path} until this kernel exits"
                  " (%job worker stop)")
        elif args.action == "stop":
            stopped = owned_worker.stop_workers(queue)
            print(f"stopped worker {', '.join(str(w.pid) for w in stopped)}" if stopped
                  else "this kernel runs no worker on this queue")
        else:
            mine = [w.pid for w in owned_worker.owned_workers(queue)]
            display(HTML(workers_html(queue.workers(), mine)))


JobMagics.job.__doc__ = inspect.cleandoc(JobMagics.job.__doc__ or "") + "\n\n" + help_text()


def _first_index(array: JobArray) -> int:
    first = array.elements_page(limit=1)
    index = first[0].record.array_index if first else None
    return index or 0


def _pulls(job: Target) -> bool:
    """Whether the job (an array: its elements) was submitted with --pull."""
    if isinstance(job, JobArray):
        first = job.elements_page(limit=1)
        return bool(first and first[0].record.options.pull)
    return bool(job.record.options.pull)


def _show(output: dict[str, Any]) -> None:
    """Re-display one captured nbformat output in this cell."""
    kind = output.get("output_type")
    if kind == "stream":
        stream = sys.stderr if output.get("name") == "stderr" else sys.stdout
        stream.write(output.get("text", ""))
        stream.flush()
    elif kind == "error":
        lines = output.get("traceback") or [f"{output.get('ename')}: {output.get('evalue')}"]
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
    elif kind in ("display_data", "execute_result"):
        display(output.get("data", {}), raw=True, metadata=output.get("metadata") or {})


def _parse(subcommand: str, rest: str) -> Any:
    """The subcommand's arguments, split as a shell splits them (IPython's own splitting keeps
    the quotes: ``--name 'a note'`` would name the job "'a note'"). Raises UsageError."""
    try:
        argv = shlex.split(rest)
    except ValueError as exc:                    # "No closing quotation"
        raise UsageError(f"%job {subcommand}: {str(exc).lower()} in {rest!r}") from None
    parser: ArgumentParser = PARSERS[subcommand].parser  # type: ignore[attr-defined]
    return parser.parse_args(argv)          # a MagicArgumentParser: raises UsageError itself
