"""``POST /jobmagics/api/jobs`` with ``{"experiment": "module:Class", "config": {...}}``: run by
a real worker with data, and a bad one refused (400) with the worker's words, nothing queued."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from kernel_worker import spawn
from tests.server.conftest import ROOT

RABI = "jobmagics.experiments:Rabi"


@pytest.fixture
def station_worker(server_queue: Path, tmp_path: Path) -> Iterator[None]:
    """A real worker that serves the station (``hardware``)."""
    worker = spawn(server_queue, "--resource", "hardware", log=tmp_path / "worker.log", cwd=ROOT)
    yield
    worker.stop(timeout=30)


async def test_an_experiment_submitted_over_rest_runs_and_has_its_data(
        api: Any, q: jobmagics.Queue, station_worker: None) -> None:
    status, body = await api("POST", "jobs", {"experiment": RABI, "name": "rabi",
                                              "config": {"amplitude": 0.3, "points": 11}})
    assert status == 201, body
    job = q.get(body["job"]["id"])
    assert job.wait(120).state is jobmagics.State.COMPLETED, job.log()
    assert job.data().points == 11
    assert job.snapshot()["config"]["amplitude"] == 0.3
    assert job.last_read.resources == ["hardware"]


async def test_a_bad_experiment_is_refused_over_rest_with_the_workers_words_and_nothing_queued(
        api: Any, q: jobmagics.Queue, station_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = [(RABI, {"pionts": 11}), (RABI, {"amplitude": 3.0}), ("jobmagics.experiments:Rabbi", {})]
    with monkeypatch.context() as bypass:          # the worker's own refusals, for comparison
        bypass.setattr("jobmagics.experiments.checking.find_class",
                       lambda target, cwd: (None, "bypassed by the test"))
        failed = [q.submit(experiment=target, config=config) for target, config in bad]
    before = q.count()
    for (target, config), job in zip(bad, failed, strict=True):
        assert job.wait(120).state is jobmagics.State.FAILED
        status, body = await api("POST", "jobs", {"experiment": target, "config": config})
        assert status == 400
        assert body["error"] == job.log().splitlines()[-1]
    assert q.count() == before


@pytest.mark.parametrize("body, message", [
    ({"config": {"amplitude": 0.3}, "command": ["true"]}, '"config" goes with "experiment"'),
    ({"experiment": RABI, "config": [1, 2]}, '"config" must be a JSON object'),
    ({"experiment": 42}, '"experiment" must be a string naming the class'),
    ({"experiment": "no colon"}, "an experiment names its class as 'module:Class'"),
    ({"experiment": RABI, "code": "1"}, "give exactly one of"),
])
async def test_malformed_experiment_bodies_are_refused_and_nothing_is_queued(
        api: Any, q: jobmagics.Queue, body: dict[str, Any], message: str) -> None:
    status, answer = await api("POST", "jobs", body)
    assert status == 400 and message in answer["error"]
    assert q.count() == 0


async def test_an_experiment_the_server_cannot_import_is_queued_with_the_event_saying_so(
        api: Any, q: jobmagics.Queue, station_worker: None) -> None:
    status, body = await api("POST", "jobs", {"experiment": "only_on_the_station:Sweep",
                                              "hold": True})
    assert status == 201, body
    detail = q.events(body["job"]["id"])[0]["detail"]
    assert "not checked at submit: no module named 'only_on_the_station'" in detail
