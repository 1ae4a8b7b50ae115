"""The executors a worker has unless it is given others: Jupyter kernels (unless --no-kernel),
the batch systems it serves (SLURM, PBS), and local processes (commands, and the zygote's forks)."""
from __future__ import annotations

import contextlib

from ..options import WorkerOptions
from .base import Executor, JobContext
from .subprocess import SubprocessExecutor


def default_executors(options: WorkerOptions, context: JobContext) -> list[Executor]:
    executors: list[Executor] = []
    if options.kernel_executor:
        with contextlib.suppress(ImportError):
            from .kernel import KernelExecutor
            executors.append(KernelExecutor(options, context))
    for backend in options.backends:
        if backend != "local":
            from .batch_systems import executor_for
            executors.append(executor_for(backend, context))
    executors.append(SubprocessExecutor(context))
    return executors
