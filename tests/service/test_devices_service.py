"""Devices in a system queue: the service's worker gives a member's job free units of its
resources and the job, run as its owner, sees them; its record and status show them."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmagics
from jobmagics.model import State
from tests.conftest import wait_for
from tests.service.running import Lab, ServiceProcess, cli_as


@pytest.fixture
def gpu_service(system_queue: Path, queue_base: Path) -> Iterator[ServiceProcess]:
    running = ServiceProcess(system_queue, queue_base / "service.log",
                             resources=("gpu=0,1,2,3",)).start()
    yield running
    running.stop()
    print(f"---- the service's log ({running.log}) ----\n{running.output()}")


def test_a_members_job_gets_its_units_as_its_owner(lab: Lab, system_queue: Path,
                                                   gpu_service: ServiceProcess,
                                                   root_queue: jobmagics.Queue) -> None:
    submitted = cli_as(lab.alice, system_queue, "submit", "--resource", "gpu:2", "--",
                       "sh", "-c", "echo $(id -un) $CUDA_VISIBLE_DEVICES $JOBMAGICS_RESOURCE_GPU")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split()[0] if submitted.stdout.split() else ""
    job = root_queue.get(job_id)
    wait_for(lambda: job.refresh().state is State.COMPLETED, timeout=60)
    held = ",".join(job.record.units["gpu"])
    assert len(job.record.units["gpu"]) == 2
    assert job.log().split() == [lab.alice, held, held]
    shown = cli_as(lab.alice, system_queue, "status", job_id, "--json")
    assert json.loads(shown.stdout)["units"] == {"gpu": job.record.units["gpu"]}
