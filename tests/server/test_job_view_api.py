"""The routes behind JupyterLab's job view (``jobs/<id>/data``, ``/outputs``, ``/submission``),
the one-job JSON's result and snapshot, and the sentence of a job row, through a real
jupyter_server on a real queue with real workers."""
from __future__ import annotations

import ast
import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import jobmagics
from jobmagics.data import load
from kernel_worker import spawn
from tests.server.conftest import ROOT

RABI = "jobmagics.experiments:Rabi"
# a 1x1 PNG: what IPython.display.Image sends as image/png
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
ENDED = ("completed", "failed", "cancelled", "timeout")


@pytest.fixture
def station_worker(server_queue: Path, tmp_path: Path) -> Iterator[Any]:
    """A real worker that serves the station (``hardware``) and python jobs."""
    worker = spawn(server_queue, "--slots", "2", "--resource", "hardware",
                   log=tmp_path / "worker.log", cwd=ROOT)
    yield worker.process
    worker.stop(timeout=20)


async def until_ended(api: Any, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, body = await api("GET", f"jobs/{job_id}")
        if body["job"]["state"] in ENDED:
            return body
        assert time.monotonic() < deadline, f"{job_id} still {body['job']['state']}"
        await asyncio.sleep(0.05)


# ---- data ---------------------------------------------------------------------------------

async def test_the_data_of_a_running_experiment_comes_from_an_offset_without_gap_or_repeat(
        api: Any, q: jobmagics.Queue, station_worker: Any) -> None:
    # 30 points of 10000 shots, two points a chunk: about 0.2 s a point on the simulated station
    job = q.submit(experiment=RABI, config={"points": 30, "reps": 10000, "chunk": 2, "seed": 1})
    answers: list[dict[str, Any]] = []
    received = 0
    deadline = time.monotonic() + 90
    while not (answers and answers[-1]["complete"]):
        status, body = await api("GET", f"jobs/{job.id}/data", params={"offset": str(received)})
        assert status == 200, body
        assert body["offset"] == received
        received += len(next(iter(body["columns"].values()), []))
        if body["exists"] and body["points"]:
            answers.append(body)
        assert time.monotonic() < deadline, "the experiment did not complete"
        await asyncio.sleep(0.3)
    live = [a for a in answers if not a["complete"]]
    assert len(live) >= 2 and live[0]["points"] < min(live[-1]["points"], 30), \
        [a["points"] for a in answers]      # seen growing while it ran
    assert all(a["status"] == "running" for a in live)
    # the planned sweep (Rabi's start..stop) from the first points on: the axis need not grow
    assert all(a["x_range"] == pytest.approx([0.0, 2e-7]) for a in answers)
    final = load(job)
    for name in ("length", "i", "q", "amplitude"):
        joined = [v for a in answers for v in a["columns"][name]]
        assert np.array_equal(np.array(joined), final[name]), name     # no point twice, none lost
    last = answers[-1]
    assert last["points"] == 30 and last["status"] == "completed"
    assert last["x"] == "length" and last["y"] == ["i"]
    assert last["units"]["length"] == "s"
    assert last["summary"]["rabi_frequency"] == pytest.approx(job.result()["rabi_frequency"])
    fit = last["fit"]
    assert set(fit) == {"x", "i"} and len(fit["x"]) == len(fit["i"]) == 200
    assert fit["x"][0] == pytest.approx(final["length"].min())
    assert fit["x"][-1] == pytest.approx(final["length"].max())
    # the curve is the fitted model of the plotted column: closer to the data than its mean
    curve = np.interp(final["length"], fit["x"], fit["i"])
    assert np.mean((curve - final["i"]) ** 2) < np.var(final["i"])


async def test_the_one_job_route_of_an_experiment_carries_its_result_and_snapshot(
        api: Any, q: jobmagics.Queue, station_worker: Any) -> None:
    job = q.submit(experiment=RABI, config={"points": 21, "reps": 50, "amplitude": 0.4})
    body = await until_ended(api, job.id)
    assert body["job"]["state"] == "completed"
    assert body["result"] == job.result()
    snapshot = body["snapshot"]
    assert snapshot["experiment"] == RABI and snapshot["config"]["amplitude"] == 0.4
    assert snapshot["config"]["points"] == 21 and "defaults" in snapshot
    assert "source" not in snapshot["code"] and snapshot["code"]["class"] == "Rabi"
    assert [e["state"] for e in body["events"]][-1] == "completed"
    assert len(json.dumps(body)) < 64 * 1024


async def test_a_job_without_a_data_file_answers_that_it_has_none(
        api: Any, q: jobmagics.Queue) -> None:
    job = q.submit(experiment=RABI, config={"points": 5})
    status, body = await api("GET", f"jobs/{job.id}/data")
    assert status == 200
    assert body["exists"] is False and body["columns"] == {} and body["points"] == 0
    assert body["fit"] is None and body["complete"] is False
    _, one = await api("GET", f"jobs/{job.id}")
    assert one["result"] is None and one["snapshot"] is None


async def test_columns_of_unequal_length_are_cut_and_nan_is_null(
        api: Any, q: jobmagics.Queue) -> None:
    import h5py
    job = q.submit(experiment=RABI, config={"points": 5})
    job.data_path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(job.data_path, "w", libver="latest") as handle:
        handle.create_dataset("x", data=np.array([0.0, 1.0, 2.0, 3.0]))
        handle.create_dataset("y", data=np.array([1.0, np.nan, np.inf]))
        handle.attrs["plot_x"], handle.attrs["plot_y"] = "x", '["y"]'
    status, body = await api("GET", f"jobs/{job.id}/data", params={"offset": "1"})
    assert status == 200
    assert body["points"] == 3 and body["columns"] == {"x": [1.0, 2.0], "y": [None, None]}
    assert body["x"] == "x" and body["y"] == ["y"] and body["complete"] is False


async def test_one_answer_is_capped_and_the_next_starts_where_it_ended(
        api: Any, q: jobmagics.Queue) -> None:
    from jobmagics.data import DataWriter
    from jobmagics.job_data import MAX_POINTS
    job = q.submit(experiment=RABI, config={"points": 5})
    total = MAX_POINTS + 123
    with DataWriter(job.data_path) as data:
        data.extend(x=np.arange(total, dtype=float))
    _, first = await api("GET", f"jobs/{job.id}/data")
    assert first["points"] == total and len(first["columns"]["x"]) == MAX_POINTS
    _, second = await api("GET", f"jobs/{job.id}/data", params={"offset": str(MAX_POINTS)})
    assert second["columns"]["x"] == [float(v) for v in range(MAX_POINTS, total)]
    assert second["complete"] is True and second["status"] == "completed"


# ---- errors and visibility ----------------------------------------------------------------

@pytest.mark.parametrize("route", ["data", "outputs", "submission"])
async def test_an_unknown_job_is_404_on_every_view_route(api: Any, route: str) -> None:
    status, body = await api("GET", f"jobs/JOB-20000101-00042/{route}")
    assert status == 404 and body["type"] == "JobNotFound"
    assert "JOB-20000101-00042" in body["error"]


@pytest.mark.parametrize("route", ["data", "outputs"])
@pytest.mark.parametrize("offset", ["-1", "abc", "1.5"])
async def test_a_bad_offset_is_400_in_one_sentence(
        api: Any, q: jobmagics.Queue, route: str, offset: str) -> None:
    job = q.submit(["true"])
    status, body = await api("GET", f"jobs/{job.id}/{route}", params={"offset": offset})
    assert status == 400 and body["type"] == "BadRequest"
    assert body["error"].startswith("offset must be") and "\n" not in body["error"]


async def test_another_users_job_follows_the_rules_of_the_one_job_route(
        api: Any, server_queue: Path, submit_as: Any) -> None:
    theirs = submit_as(server_queue, command=["echo", "hi"], env={"TOKEN": "s3cret"},
                       priority=4)
    one_status, one = await api("GET", f"jobs/{theirs}")
    for route in ("data", "outputs", "submission"):
        status, _ = await api("GET", f"jobs/{theirs}/{route}")
        assert status == one_status == 200, route
    _, submission = await api("GET", f"jobs/{theirs}/submission")
    assert "priority=4" in submission["python"]
    assert ("s3cret" in submission["python"]) is one["can_act"] is ("env" in one["job"])


# ---- outputs ------------------------------------------------------------------------------

SHOW = f"""
print("hello from the job")
from IPython.display import Image, display
display(Image(data={PNG!r}))
print("bye")
"""


async def test_a_python_jobs_outputs_are_its_stream_and_its_image(
        api: Any, q: jobmagics.Queue, server_worker: Any) -> None:
    job = q.submit(code=SHOW)
    await until_ended(api, job.id)
    assert job.refresh().state is jobmagics.State.COMPLETED, job.log()
    status, body = await api("GET", f"jobs/{job.id}/outputs")
    assert status == 200 and body["source"] == "outputs" and body["done"] is True
    kinds = [o["output_type"] for o in body["outputs"]]
    assert "stream" in kinds and "display_data" in kinds
    text = "".join(o["text"] for o in body["outputs"] if o["output_type"] == "stream")
    assert "hello from the job" in text and "bye" in text
    image = next(o for o in body["outputs"] if o["output_type"] == "display_data")
    assert base64.b64decode(image["data"]["image/png"]) == PNG
    # from where it ended: nothing again
    _, again = await api("GET", f"jobs/{job.id}/outputs", params={"offset": str(body["next"])})
    assert again["outputs"] == [] and again["next"] == body["next"] and again["done"] is True
    # the same outputs, asked in two parts, come once each
    jsonl = q.layout.outputs(job.id).read_bytes()
    middle = jsonl.index(b"\n") + 1
    _, first = await api("GET", f"jobs/{job.id}/outputs", params={"offset": "0"})
    _, part = await api("GET", f"jobs/{job.id}/outputs", params={"offset": str(middle)})
    assert first["outputs"][1:] == part["outputs"]


async def test_an_ended_job_with_only_its_notebook_answers_from_the_notebook(
        api: Any, q: jobmagics.Queue, server_worker: Any) -> None:
    job = q.submit(code=SHOW)
    await until_ended(api, job.id)
    q.layout.outputs(job.id).unlink()
    _, body = await api("GET", f"jobs/{job.id}/outputs")
    assert body["source"] == "outputs" and body["done"] is True
    assert any("image/png" in (o.get("data") or {}) for o in body["outputs"])
    _, again = await api("GET", f"jobs/{job.id}/outputs", params={"offset": str(body["next"])})
    assert again["outputs"] == []


async def test_big_outputs_come_in_parts_of_whole_lines_without_loss(
        api: Any, q: jobmagics.Queue) -> None:
    from jobmagics.server.views import LOG_CHUNK
    job = q.submit(code="print(1)")
    outputs = [{"output_type": "stream", "name": "stdout", "text": f"{n}" * (LOG_CHUNK * 3 // 5)}
               for n in range(4)]
    path = q.layout.outputs(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in outputs) + '{"output_type": "str')
    received, offset, answers = [], 0, 0
    while True:
        _, body = await api("GET", f"jobs/{job.id}/outputs", params={"offset": str(offset)})
        if not body["outputs"]:
            break
        answers += 1
        received += body["outputs"]
        offset = body["next"]
    assert received == outputs and answers > 1        # the line being written waits
    assert offset == path.stat().st_size - len('{"output_type": "str')


async def test_a_command_job_has_no_outputs_and_points_to_its_log(
        api: Any, q: jobmagics.Queue) -> None:
    job = q.submit(["echo", "hi"])
    _, body = await api("GET", f"jobs/{job.id}/outputs")
    assert body["source"] == "log" and body["outputs"] == [] and body["done"] is False


# ---- submission ---------------------------------------------------------------------------

async def test_the_submission_route_gives_python_that_queues_the_same_job(
        api: Any, q: jobmagics.Queue) -> None:
    job = q.submit(experiment=RABI, config={"points": 11, "amplitude": 0.3}, name="rabi",
                   priority=3, hold=True, retries=1)
    status, body = await api("GET", f"jobs/{job.id}/submission")
    assert status == 200 and body["job"] == job.id
    ast.parse(body["python"])
    scope = {"q": q}
    exec(body["python"], scope)  # noqa: S102 - the text is the point of the route
    again = q.jobs(limit=1)[0].last_read
    for name in ("kind", "experiment", "name", "priority", "held", "retries", "resources", "cwd"):
        assert getattr(again, name) == getattr(job.last_read, name), name


# ---- the sentence of a row ----------------------------------------------------------------

async def test_an_ended_rows_sentence_says_it_once(
        api: Any, q: jobmagics.Queue, server_worker: Any) -> None:
    job = q.submit(["sh", "-c", "exit 3"], name="fit")
    await until_ended(api, job.id)
    _, listing = await api("GET", "jobs")
    row = next(r for r in listing["jobs"] if r["id"] == job.id)
    assert row["sentence"] == f"Job {job.id} (fit) failed: exit code 3"


async def test_a_row_tells_whose_job_it_is_when_it_is_not_mine(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any, other_user: str) -> None:
    theirs = submit_as(server_queue, command=["sleep", "60"])
    mine = q.submit(["sleep", "60"], hold=True)
    q.add_admin(q.user)          # (a worker runs its own account's jobs: an admin ends theirs)
    q.cancel(theirs)
    _, listing = await api("GET", "jobs")
    rows = {r["id"]: r for r in listing["jobs"]}
    assert rows[theirs]["sentence"] == f"Job {theirs} of {other_user} was cancelled by {q.user}"
    assert rows[mine.id]["sentence"] is None            # not ended: nothing to tell
