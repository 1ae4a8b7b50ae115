"""What a kernel executes for each kind of job it runs (``kernel_worker.kinds`` says which
kind runs which): a python job's own code, or the call that runs an experiment job in the
persistent kernel against its live station. Calls into the kernel go to ``kernel_prelude``
through ``kernel_call``, typed by the prelude's functions themselves. (Nothing here starts or
talks to a kernel: the zygote imports this through ``kinds`` and stays small without that.)"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec

from jobmagics.context import units_environment
from jobmagics.model import JobRecord

from . import kernel_prelude

P = ParamSpec("P")


@dataclass(frozen=True)
class KernelWork:
    """The code a job runs in a kernel and the silent call that ends it."""

    code: str
    store_history: bool            # the user's own code goes into In/Out; our calls do not
    notebook_source: str           # what outputs/<id>.ipynb shows as the cell that ran
    pulls_result: bool             # False: the code saves the job's result itself

    def finish_call(self, job: JobRecord, queue_root: str, failed: bool) -> str:
        """Its result comes back in the reply (``REPORT``), unless it is big."""
        if not self.pulls_result:
            return kernel_call(kernel_prelude.end_job)
        pull = [str(n) for n in job.options.pull or []]
        return kernel_call(kernel_prelude.finish_job, job.id, queue_root, pull, failed,
                           report=True)


INLINE_PAYLOAD = 64 * 1024      # pushed variables up to this size travel in the call


def begin_call(job: JobRecord, queue_root: str, trusted: bool = True,
               payload: bytes | bool | None = False) -> str:
    """The silent call that prepares the kernel for ``job`` before its work runs; ``payload``:
    its pushed variables as the worker read them (None: it has none; False: the kernel reads
    them). Not ``trusted`` (an allow-listed experiment of someone who may not run code in the
    instrument's kernel): the kernel takes nothing of the job's but its id (see ``begin_job``)."""
    if not trusted:
        return kernel_call(kernel_prelude.begin_job, job.id, queue_root, "/", {}, job.attempt,
                           trusted=False)
    inline: str | bool | None = False
    if payload is None:
        inline = None
    elif isinstance(payload, bytes) and len(payload) <= INLINE_PAYLOAD:
        inline = base64.b64encode(payload).decode()
    env = {**job.env, **units_environment(job.units)}     # the units it holds (gpu 0, 2)
    return kernel_call(kernel_prelude.begin_job, job.id, queue_root, job.cwd, env, job.attempt,
                       payload=inline)


def code_work(job: JobRecord, queue_root: str, trusted: bool = True) -> KernelWork:
    """A python job: its own code, as a notebook cell; pulled variables are sent back after.
    (Only an owner trusted with the kernel gets one: ``KernelExecutor`` refuses the others.)"""
    return KernelWork(job.code or "", store_history=True, notebook_source=job.code or "",
                      pulls_result=True)


def experiment_work(job: JobRecord, queue_root: str, trusted: bool = True) -> KernelWork:
    """``run_experiment(JOB_ID, QUEUE, station=globals().get("station"))``, through the prelude
    so the user's namespace gains no names. It is NOT a silent execution although it is our
    code: a silent one publishes no ``execute_input``, and that message is what tells the
    executor the code runs, so that a cancel may interrupt it (see ``RunState``)."""
    experiment = job.experiment or {}
    config = json.dumps(experiment.get("config") or {}, sort_keys=True)
    readable = (f"# experiment {experiment.get('target')} with config {config}\n"
                "from jobmagics.experiments import run_experiment\n"
                f"run_experiment({job.id!r}, {queue_root!r}, station=globals().get('station'))\n")
    call = (kernel_call(kernel_prelude.run_experiment_job, job.id, queue_root) if trusted else
            kernel_call(kernel_prelude.run_experiment_job, job.id, queue_root, trusted=False))
    return KernelWork(call,
                      store_history=False, notebook_source=readable, pulls_result=False)


def kernel_call(function: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> str:
    """Source of one call ``function(*args, **kwargs)`` to run in a kernel, where ``function``
    is a function at the top of a module the kernel can import (those of ``kernel_prelude``).
    Typed by the function itself, so a renamed function or a changed parameter is a type error
    here, not a NameError in a job's kernel. Arguments travel as literals (their ``repr``)."""
    name, module = function.__qualname__, function.__module__
    if "." in name or module == "__main__":
        raise ValueError(f"{module}.{name} is not a function a kernel can import by name")
    arguments = [repr(a) for a in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    # one expression: leaves no name behind in the user's namespace
    return f"__import__({module!r}, fromlist=['_']).{name}({', '.join(arguments)})\n"


# the user expression, in the reply to the call that ends a job, that hands over its result
REPORT = {"report": kernel_call(kernel_prelude.take_report).strip()}
