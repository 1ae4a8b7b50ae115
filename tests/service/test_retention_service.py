"""Retention in a system queue, tried by real accounts: the service prunes (and, as root,
removes the files jobs made as their owners); a member prunes their own jobs only, an admin
everyone's; every member may see where the space goes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobmagics
from tests.service.running import Lab, cli_as, run_as, snapshot
from tests.test_retention import age, everything

pytestmark = pytest.mark.usefixtures("service")

SUBMIT = """
import sys, jobmagics
q = jobmagics.Queue(sys.argv[1])
jobs = [q.submit(["sh", "-c", "id -un"], cwd="/tmp") for _ in range(int(sys.argv[2]))]
for job in jobs:
    job.wait(120)
print(" ".join(job.id for job in jobs))
"""


def finished_jobs_of(user: str, queue: Path, n: int) -> list[str]:
    ran = run_as(user, SUBMIT, str(queue), str(n), timeout=240)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.split()


def test_a_member_prunes_their_own_jobs_through_the_service_and_no_one_elses(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    alices = finished_jobs_of(lab.alice, system_queue, 2)
    bobs = finished_jobs_of(lab.bob, system_queue, 1)
    age(system_queue, [*alices, *bobs])
    assert root_queue.layout.log(alices[0]).read_text().strip() == lab.alice
    before = snapshot(root_queue), everything(system_queue)

    refused = cli_as(lab.bob, system_queue, "prune", "--older-than", "1d", "--user", lab.alice)

    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert f"{lab.bob} may not prune the jobs of {lab.alice}" in refused.stderr
    assert (snapshot(root_queue), everything(system_queue)) == before
    done = cli_as(lab.bob, system_queue, "prune", "--older-than", "1d", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["jobs"] == 1 and report["user"] == lab.bob and report["files"] == 1
    assert not root_queue.layout.log(bobs[0]).exists()
    assert all(root_queue.store.get(i) for i in alices)
    assert all(root_queue.layout.log(i).exists() for i in alices)


def test_an_admin_prunes_everyones_jobs_and_the_files_they_made_as_themselves(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    alices = finished_jobs_of(lab.alice, system_queue, 2)
    bobs = finished_jobs_of(lab.bob, system_queue, 1)
    age(system_queue, [*alices, *bobs])
    assert root_queue.layout.log(bobs[0]).stat().st_uid != 0      # made as bob
    root_queue.add_admin(lab.alice)
    planned = cli_as(lab.alice, system_queue, "prune", "--older-than", "1d", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.startswith("would remove 3 jobs: finished jobs of every user")
    done = cli_as(lab.alice, system_queue, "prune", "--older-than", "1d")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed 3 jobs")
    assert root_queue.stats()["total"] == 0
    assert not any(root_queue.layout.log(i).exists() for i in [*alices, *bobs])


def test_every_member_sees_where_the_space_goes(lab: Lab, system_queue: Path) -> None:
    finished_jobs_of(lab.alice, system_queue, 1)
    finished_jobs_of(lab.bob, system_queue, 2)
    shown = cli_as(lab.bob, system_queue, "du", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = {r["key"]: r for r in json.loads(shown.stdout)["rows"]}
    assert rows[lab.alice]["jobs"] == 1 and rows[lab.bob]["jobs"] == 2
    assert rows[lab.bob]["logs"] > 0
    outsider = cli_as(lab.outsider, system_queue, "du")
    assert outsider.returncode == 2
