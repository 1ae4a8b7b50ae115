"""A system queue's jobs on SLURM run as their owners, and their files go through a reports
folder every owner may write into but none may list: the worker takes a job's result only
from the job's own account."""
from __future__ import annotations

import pwd
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from kernel_worker.spawning import WorkerHandle
from tests.accounts import account_python

# a system queue with its service, owners' accounts and a root worker (their fixtures)
from tests.test_run_as_owner import (  # noqa: F401
    finished,
    owners,
    start_worker,
    submit_for,
    system_queue,
)

pytestmark = pytest.mark.usefixtures("slurm")      # its SLURM_CONF is in os.environ


def test_an_owner_s_function_job_on_slurm_reports_its_result_as_its_own_file(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:  # noqa: F811
    def whoami() -> tuple[str, int]:
        import os
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name, os.getuid()

    start_worker("--slurm")
    job_id = submit_for(system_queue, "jmtest_x", function=whoami, backend="slurm",
                        options={"python": str(account_python())})     # one they can run
    job = finished(system_queue, job_id, 120)
    assert job.state.value == "completed", (job.error, job.log())
    assert job.result(trust=True) == ("jmtest_x", pwd.getpwnam("jmtest_x").pw_uid)
    reports = system_queue / "slurm" / "reports"
    info = reports.stat()
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o1733
    assert not list(reports.iterdir())
