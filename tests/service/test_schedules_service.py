"""Recurring schedules in a system queue, with real accounts: a member adds one through the
service (as themselves, checked as a submission is, the instrument policy included), the
service's own worker submits its runs as that member's jobs, another member sees it without
what it runs and may not pause it, and root (the service's account) may."""
from __future__ import annotations

import json
from pathlib import Path

import jobmagics
from jobmagics.model import State
from tests.conftest import wait_for
from tests.service.running import Lab, cli_as, run_as

ADD = ("import sys, jobmagics\n"
       "s = jobmagics.Queue(sys.argv[1]).schedule(sys.argv[2], every=sys.argv[3],"
       " command=['id', '-un'], cwd='/tmp')\n"
       "print(s.name, s.last_read.user)")


def test_a_members_schedule_is_run_by_the_service_as_that_member(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, service: object) -> None:
    added = run_as(lab.alice, ADD, str(system_queue), "whoami", "1s")
    assert added.returncode == 0, added.stderr
    assert added.stdout.split() == ["whoami", lab.alice]
    schedule = root_queue.get_schedule("whoami")
    job = wait_for(lambda: schedule.runs() and schedule.runs()[-1], timeout=30)
    schedule.pause()
    assert job.wait(30).state is State.COMPLETED, job.log()
    assert (job.record.user, job.record.schedule) == (lab.alice, "whoami")
    assert job.log().strip() == lab.alice
    listed = cli_as(lab.alice, system_queue, "schedule", "runs", "whoami", "--json")
    assert job.id in [r["id"] for r in json.loads(listed.stdout)], listed.stderr


def test_another_member_sees_the_schedule_but_not_what_it_runs_and_may_not_pause_it(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, service: object) -> None:
    assert run_as(lab.alice, ADD, str(system_queue), "mine", "1h").returncode == 0
    listed = json.loads(cli_as(lab.bob, system_queue, "schedule", "list", "--json").stdout)
    assert [(s["name"], s["user"]) for s in listed] == [("mine", lab.alice)]
    assert listed[0]["what"].startswith("# hidden")
    for verb in ("pause", "remove", "run-now"):
        refused = cli_as(lab.bob, system_queue, "schedule", verb, "mine")
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"{lab.bob} may not {verb} the schedule 'mine'" in refused.stderr
    assert not root_queue.get_schedule("mine").paused and root_queue.count() == 0
    own = json.loads(cli_as(lab.alice, system_queue, "schedule", "list", "--json").stdout)
    assert own[0]["what"] == "id -un"
    root_queue.act_on_schedules("pause", ["mine"])          # root: the service's account
    assert root_queue.get_schedule("mine").paused


def test_a_schedule_through_the_service_passes_the_instrument_policy(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, service: object) -> None:
    """Bob may not run his own python in the instrument's shared kernel, every hour either."""
    refused = cli_as(lab.bob, system_queue, "schedule", "add", "mine", "--every", "1h",
                     "--resource", "hardware", "--code", "print(1)")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"jobmagics admin operators add {lab.bob}" in refused.stderr
    assert root_queue.schedules() == []
    root_queue.add_operator(lab.bob)
    allowed = cli_as(lab.bob, system_queue, "schedule", "add", "mine", "--every", "1h",
                     "--resource", "hardware", "--code", "print(1)")
    assert allowed.returncode == 0, allowed.stderr
    assert root_queue.get_schedule("mine").last_read.user == lab.bob


def test_a_member_reads_the_queues_change_counts_through_the_service(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, service: object) -> None:
    # a member's sidebar asks the service (the member cannot read jobs.db): the counts it
    # answers are the database's own, and a schedule written moves the schedules topic
    read = ("import json, sys, jobmagics\n"
            "print(json.dumps(jobmagics.Queue(sys.argv[1]).change_versions()))")
    before = run_as(lab.alice, read, str(system_queue))
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) == root_queue.change_versions()
    assert run_as(lab.alice, ADD, str(system_queue), "counted", "1h").returncode == 0
    after = json.loads(run_as(lab.alice, read, str(system_queue)).stdout)
    assert after["schedules"] > json.loads(before.stdout)["schedules"]
    assert after == root_queue.change_versions()
