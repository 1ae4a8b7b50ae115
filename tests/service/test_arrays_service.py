"""Arrays in a system queue: a member submits, watches and retries an array through the
service, its elements run as that member, and another member can neither act on it nor add
to it (nothing changes when they try)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobmagics
from tests.service.running import Lab, run_as, snapshot
from tests.service.test_attacks import attempts, refused

pytestmark = pytest.mark.usefixtures("service")

SUBMIT_ARRAY = """
import json, sys, jobmagics
q = jobmagics.Queue(sys.argv[1])
array = q.submit_array(["sh", "-c", "id -un; test {index} != 2"], items=range(4), parallel=2,
                       cwd="/tmp")
array.wait(120)
squares = q.submit_array(function=lambda x: x * x, items=[1, 2, 3], cwd="/tmp")
print(json.dumps({"id": array.id, "state": array.state.value, "counts": array.counts,
                  "log": array.element(0).log(), "squares": squares.results(timeout=120),
                  "elements": [j.id for j in array.elements]}))
"""


def test_a_member_submits_an_array_through_the_service_and_its_elements_run_as_them(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    ran = run_as(lab.alice, SUBMIT_ARRAY, str(system_queue), timeout=240)
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout.splitlines()[-1])
    assert seen["state"] == "failed" and seen["counts"]["completed"] == 3
    assert seen["log"].strip() == lab.alice
    assert seen["squares"] == [1, 4, 9]
    array = root_queue.array(seen["id"])
    assert array.user == lab.alice
    assert {job.record.user for job in array.elements} == {lab.alice}


ATTACKS_ON_AN_ARRAY = """
q = jobmagics.Queue(sys.argv[1])
victim = sys.argv[2]
for verb in ("cancel", "hold", "release", "retry", "delete"):
    attempt(f"{verb} the array", lambda verb=verb: q.apply(verb, [victim]))
attempt("add an element to it", lambda: q.submit_array(["true"], items=[0], extend=victim))
attempt("cancel one element", lambda: q.cancel(victim + "_0"))
"""


def test_another_member_cannot_act_on_an_array_nor_grow_it(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    made = run_as(lab.alice, "import sys, jobmagics; print(jobmagics.Queue(sys.argv[1])"
                  ".submit_array(['sleep', '60'], items=range(3), parallel=1, hold=True,"
                  " cwd='/tmp').id)", str(system_queue))
    assert made.returncode == 0, made.stderr
    victim = made.stdout.split()[-1]
    before = snapshot(root_queue)
    outcomes = attempts(lab.bob, ATTACKS_ON_AN_ARRAY, str(system_queue), victim)
    refused(outcomes)
    assert snapshot(root_queue) == before
    root_queue.apply("cancel", [victim])
