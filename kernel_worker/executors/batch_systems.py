"""The batch systems a worker can submit to, by the backend name jobs give (``--backend``)."""
from __future__ import annotations

from jobmagics.model import JobRecord

from .base import JobContext
from .batch_executor import BatchExecutor

BATCH_BACKENDS = ("slurm", "pbs")


def executor_for(backend: str, context: JobContext) -> BatchExecutor:
    """The executor of one batch backend (``ValueError`` for any other name)."""
    if backend == "slurm":
        from .slurm import SlurmExecutor
        return SlurmExecutor(context)
    if backend == "pbs":
        from .pbs import PbsExecutor
        return PbsExecutor(context)
    raise ValueError(f"no batch system called {backend!r}; there are {', '.join(BATCH_BACKENDS)}")


def cancel_orphan(job: JobRecord) -> bool:
    """Cancel the batch job of an attempt whose worker died, so a requeue cannot run it twice
    (True for a job of no batch system: nothing to cancel)."""
    if job.backend == "slurm":
        from .slurm_commands import cancel_orphan as cancel_slurm_job
        return cancel_slurm_job(job)
    if job.backend == "pbs":
        from .pbs import cancel_orphan as cancel_pbs_job
        return cancel_pbs_job(job)
    return True
