"""Worker options, shared by ``python -m kernel_worker`` and ``jobmagics worker``."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field

import psutil

from jobmagics.checks import parse_resource_units
from jobmagics.model import parse_memory
from jobmagics.paths import current_user


@dataclass
class WorkerOptions:
    queue: str | None = None
    slots: int = field(default_factory=lambda: os.cpu_count() or 1)
    memory: int = field(default_factory=lambda: psutil.virtual_memory().total)
    resources: dict[str, int] = field(default_factory=dict)       # name -> how many units
    units: dict[str, list[str]] = field(default_factory=dict)    # name -> its units' names
    startup: str | None = None
    drain: bool = False
    only_user: str | None = None
    idle_exit: float | None = None
    grace: float = 3.0              # SIGTERM -> SIGKILL for a cancelled or timed-out job
    shutdown_grace: float = 10.0    # on SIGTERM/Ctrl-C: how long running jobs may finish
    poll_interval: float = 0.05     # fallback when no change notification arrives
    heartbeat: float = 1.0
    backends: tuple[str, ...] = ("local",)
    kernel_executor: bool = True
    chores: bool = True             # submit due schedules, send notifications, apply retention


def add_worker_arguments(parser: argparse.ArgumentParser, *, whose: bool = True) -> None:
    """``whose``: the flags choosing whose jobs it runs (not for a system queue's service,
    which runs every user's jobs, each as its owner)."""
    parser.add_argument("--slots", type=int, default=None,
                        help="CPU slots (default: number of cores)")
    parser.add_argument("--memory", default=None, help="memory budget, e.g. 16G (default: all RAM)")
    parser.add_argument("--resource", action="append", default=[], metavar="NAME[=UNITS]",
                        help="serve this resource: hardware (one unit), gpu=4 (units 0-3),"
                             " gpu=0,2 or qick=a,b (named units; jobs get free ones in"
                             " CUDA_VISIBLE_DEVICES / JOBMAGICS_RESOURCE_<NAME>); repeatable")
    parser.add_argument("--startup", default=None, metavar="FILE",
                        help="python file run once in the persistent kernel of an exclusive"
                             " resource; experiment jobs run in that kernel against its global"
                             " `station`"
                             " (e.g. `station = jobmagics.instruments.connect_station()`)")
    parser.add_argument("--drain", action="store_true",
                        help="exit when there is nothing left to run")
    if whose:
        parser.add_argument("--only-user", default=None,
                            help="run only this user's jobs (default: only yours; --serve-group)")
        parser.add_argument("--serve-group", action="store_true",
                            help="run the jobs of every member of the queue's group too: they"
                                 " run as YOUR account, with your files and rights")
    parser.add_argument("--idle-exit", type=float, default=None, metavar="S",
                        help="exit after S seconds without jobs")
    parser.add_argument("--grace", type=float, default=3.0,
                        help="seconds between SIGTERM and SIGKILL when stopping a job")
    parser.add_argument("--shutdown-grace", type=float, default=10.0,
                        help="on SIGTERM/Ctrl-C, seconds running jobs get to finish before requeue")
    parser.add_argument("--slurm", action="store_true",
                        help="also submit --backend slurm jobs to SLURM")
    parser.add_argument("--pbs", action="store_true",
                        help="also submit --backend pbs jobs to PBS/Torque (qsub)")
    parser.add_argument("--no-kernel", action="store_true",
                        help="run python jobs in plain subprocesses instead of Jupyter kernels")
    parser.add_argument("--no-chores", action="store_true",
                        help="leave submitting recurring jobs, sending notifications and the"
                             " daily prune to other workers")


def options_from_args(args: argparse.Namespace, *, serves_everyone: bool = False) -> WorkerOptions:
    """Raises ``InvalidJob`` (a ``JobmagicsError``) for bad values, like every user input.

    A worker runs the jobs it claims as the account that started it, so without
    ``--serve-group`` it serves only its starter's jobs; ``serves_everyone`` is the system
    queue's service, which runs each job as its owner."""
    from jobmagics.errors import InvalidJob

    only_user = getattr(args, "only_user", None)
    if only_user is None and not (serves_everyone or getattr(args, "serve_group", False)):
        only_user = current_user()
    options = WorkerOptions(queue=getattr(args, "queue", None), startup=args.startup,
                            drain=args.drain, only_user=only_user, idle_exit=args.idle_exit,
                            grace=args.grace, shutdown_grace=args.shutdown_grace,
                            kernel_executor=not args.no_kernel,
                            chores=not getattr(args, "no_chores", False))
    if args.slots is not None:
        if args.slots < 1:
            raise InvalidJob(f"--slots must be at least 1, not {args.slots}")
        options.slots = args.slots
    if args.memory is not None:
        options.memory = parse_memory(args.memory) or options.memory
    options.units = dict(parse_resource_units(r) for r in args.resource)
    options.resources = {name: len(units) for name, units in options.units.items()}
    if args.startup is not None and not os.path.isfile(args.startup):
        raise InvalidJob(f"--startup {args.startup}: no such file")
    options.backends = ("local", *(backend for backend, wanted in
                                   (("slurm", args.slurm), ("pbs", getattr(args, "pbs", False)))
                                   if wanted))
    return options
