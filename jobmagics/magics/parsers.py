"""The arguments of every ``%job`` subcommand, declared with IPython's ``magic_arguments``
so that ``%job?`` help is generated from them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..fields import flag_arguments
from ..model import JobSettings
from .sweeps import SWEEP_HELP

_queue = argument("--queue", metavar="DIR",
                  help="the queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")
_job_id = argument("id", nargs="?", metavar="ID",
                   help="a job or array id (default: the last job submitted here)")
_job_ids = argument("ids", nargs="*", metavar="ID",
                    help="job or array ids, or a,b (default: the last job submitted here);"
                         " all of them or none")


def _settings(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags of every setting a user gives a job (declared once, in model.JobSettings)."""
    for flags, kwargs in reversed(flag_arguments(JobSettings)):
        func = argument(*flags, **kwargs)(func)
    return func


@magic_arguments("job submit")
@_settings
@argument("--push", metavar="a,b", help="notebook variables sent into the job (cloudpickle)")
@argument("--pull", metavar="x,y", help="job variables brought back on --wait or by %%job pull")
@argument("--sweep", action="append", default=[], metavar="NAME=VALUES", help=SWEEP_HELP
          + "; one job per point, as an array (--pull: a list per variable, in index order)")
@argument("--parallel", type=int, metavar="P",
          help="with --sweep: at most P of its jobs run at once, across all workers")
@argument("--wait", action="store_true", help="block until the job ends (and pull its variables)")
@argument("--out", metavar="NAME", help="also keep the Job (or array) in this notebook variable")
@argument("--experiment", metavar="MODULE:CLASS",
          help="an experiment to run on the station (line magic only), e.g."
               " jobmagics.experiments:Rabi; with --sweep: one job per point")
@argument("--config", metavar="JSON",
          help="the experiment's config, a JSON object (over --config-file's)")
@argument("--config-file", metavar="FILE", help="the experiment's config from a .yaml/.json file")
@_queue
@argument("command", nargs="*", metavar="-- CMD ARGS", help="a command job (line magic only)")
def submit() -> None:
    ("""Submit the cell body as a python job (``%%job submit``), a command"""
     """ (``%job submit -- CMD``) or an experiment (``%job submit --experiment M:C --config"""
     """ JSON``).""")


@magic_arguments("job queue")
@argument("--history", type=int, default=10, metavar="N", help="how many finished jobs to list")
@argument("--limit", type=int, default=50, metavar="N",
          help="how many active jobs to list (default 50; the panel says how many more there are)")
@_queue
def queue() -> None:
    """The live queue panel: waiting, pending and running jobs of every user, and recent history."""


@magic_arguments("job status")
@_job_id
@_queue
def status() -> None:
    """The job's state, progress, times and error; an array's state, counts and elements."""


@magic_arguments("job logs")
@_job_id
@_queue
def logs() -> None:
    """Print what the job wrote to stdout and stderr so far."""


@magic_arguments("job output")
@_job_id
@_queue
def output() -> None:
    """Show the job's captured rich outputs (text, images, errors) as if the cell had run here."""


@magic_arguments("job pull")
@_job_id
@_queue
def pull() -> None:
    """Bring the job's --pull variables into the notebook (an array's: a list per variable)."""


@magic_arguments("job cancel")
@_job_ids
@_queue
def cancel() -> None:
    """Cancel jobs; a running one stops within about a second."""


@magic_arguments("job retry")
@_job_ids
@_queue
def retry() -> None:
    """Run failed, cancelled or timed-out jobs again (same ids)."""


@magic_arguments("job hold")
@_job_ids
@_queue
def hold() -> None:
    """Keep pending jobs from starting."""


@magic_arguments("job release")
@_job_ids
@_queue
def release() -> None:
    """Let held jobs start."""


@magic_arguments("job wait")
@argument("ids", nargs="*", metavar="ID", help="job ids (default: the last job submitted here)")
@argument("--timeout", type=float, metavar="S", help="give up after S seconds")
@_queue
def wait() -> None:
    """Block until the jobs end; pulls the variables of jobs submitted with --pull."""


@magic_arguments("job history")
@argument("--user", help="only this user's jobs")
@argument("--state", help="only jobs in these states (a,b)")
@argument("--limit", type=int, default=20, help="at most this many (default 20)")
@_queue
def history() -> None:
    """Finished jobs of every user, newest first."""


@magic_arguments("job worker")
@argument("action", choices=["start", "stop", "status"],
          help="start or stop this kernel's worker, or list workers")
@argument("--slots", type=int, help="CPU slots (default: number of cores)")
@argument("--resource", action="append", default=[], metavar="NAME[=CAP]",
          help="serve this resource (repeatable)")
@argument("--startup", metavar="FILE",
          help="python file run once in the persistent kernel of an exclusive resource")
@argument("--serve-group", action="store_true",
          help="run every group member's jobs too, as your account (default: only yours)")
@_queue
def worker() -> None:
    """A worker owned by this kernel (stopped when the kernel exits)."""


PARSERS: dict[str, Callable[..., Any]] = {f.__name__: f for f in (
    submit, queue, status, logs, output, pull, cancel, retry, hold, release, wait, history, worker)}


def help_text() -> str:
    """Every subcommand's usage, for ``%job?``."""
    return "\n".join(f.__doc__ or "" for f in PARSERS.values())
