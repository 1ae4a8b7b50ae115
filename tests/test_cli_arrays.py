"""Job arrays on the ``jobmagics`` command line, run as a real program against real workers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobmagics
from jobmagics.model import State
from tests.conftest import WorkerProcess
from tests.test_cli import cli


def _submit(queue_dir: Path, *args: str) -> str:
    result = cli(queue_dir, "submit", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_submit_array_prints_only_the_array_id_and_each_element_gets_its_index(
        queue_dir: Path, worker: WorkerProcess) -> None:
    result = cli(queue_dir, "submit", "--array", "0-6:3%2", "--name", "fit", "--", "sh", "-c",
                 "echo out-{index}.h5 item={item} env=$JOBMAGICS_ARRAY_INDEX")
    assert result.returncode == 0 and result.stdout.count("\n") == 1
    array_id = result.stdout.strip()
    array = jobmagics.Queue(queue_dir).array(array_id)
    assert array.size == 3 and array.parallel == 2 and array.name == "fit"
    assert cli(queue_dir, "wait", array_id, "--timeout", "60").returncode == 0
    for index in (0, 3, 6):
        log = cli(queue_dir, "logs", f"{array_id}_{index}").stdout
        assert log == f"out-{index}.h5 item={index} env={index}\n"


def test_python_elements_get_index_and_item_variables(queue_dir: Path, tmp_path: Path,
                                                      worker: WorkerProcess) -> None:
    script = tmp_path / "square.py"
    script.write_text("print(index * index, item)\n")
    from_file = _submit(queue_dir, "--array", "2,5", "--file", str(script))
    from_code = _submit(queue_dir, "--array", "1", "--code", "print('code', index)")
    assert cli(queue_dir, "wait", from_file, from_code, "--timeout", "120").returncode == 0
    assert cli(queue_dir, "logs", f"{from_file}_5").stdout == "25 5\n"
    assert cli(queue_dir, "logs", f"{from_code}_1").stdout == "code 1\n"
    assert jobmagics.Queue(queue_dir).array(from_file).name == "square.py"


def test_status_of_an_array_shows_its_state_counts_and_a_page_of_elements(
        queue_dir: Path) -> None:
    array_id = _submit(queue_dir, "--array", "0-29%4", "--name", "sweep", "--", "true")
    text = cli(queue_dir, "status", array_id).stdout
    assert "pending" in text and "4 pending, 26 waiting" in text and "0 of 30 ended" in text
    assert f"{array_id}_19" in text and f"{array_id}_20" not in text       # the first 20
    assert f"... and 10 more (jobmagics status {array_id} --offset 20)" in text
    page = json.loads(cli(queue_dir, "status", array_id, "--json", "--offset", "25",
                          "--limit", "3").stdout)
    assert page["id"] == array_id and page["array"] is True and page["size"] == 30
    assert page["counts"]["waiting"] == 26 and page["state"] == "pending"
    assert [e["id"] for e in page["elements"]] == [f"{array_id}_{i}" for i in (25, 26, 27)]
    waiting = json.loads(cli(queue_dir, "status", array_id, "--json", "--state", "pending",
                             "--limit", "50").stdout)
    assert [e["array_index"] for e in waiting["elements"]] == [0, 1, 2, 3]


def test_paging_options_of_status_are_refused_for_a_plain_job(queue_dir: Path) -> None:
    job_id = _submit(queue_dir, "--", "true")
    result = cli(queue_dir, "status", job_id, "--limit", "3")
    assert result.returncode == 2 and "one job" in result.stderr


def test_the_queue_shows_an_array_as_one_line_unless_elements_are_asked_for(
        queue_dir: Path) -> None:
    array_id = _submit(queue_dir, "--array", "0-99%3", "--name", "grid", "--", "true")
    job_id = _submit(queue_dir, "--name", "alone", "--", "true")
    lines = cli(queue_dir, "queue").stdout.splitlines()
    array_lines = [line for line in lines if array_id in line]
    assert len(array_lines) == 1 and "3 pending, 97 waiting" in array_lines[0]
    assert "grid" in array_lines[0] and any(job_id in line for line in lines)
    listed = cli(queue_dir, "queue", "--elements", "--all").stdout
    assert sum(f"{array_id}_" in line for line in listed.splitlines()) == 100
    rows = json.loads(cli(queue_dir, "queue", "--json").stdout)
    assert [(r["id"], r.get("array", False)) for r in rows] == [(array_id, True), (job_id, False)]


def test_cancel_hold_and_release_of_an_array_say_how_many_elements_changed(
        queue_dir: Path) -> None:
    array_id = _submit(queue_dir, "--array", "0-9%2", "--", "true")
    other = _submit(queue_dir, "--", "true")
    assert cli(queue_dir, "hold", array_id).stdout == f"{array_id}: 10 elements held\n"
    released = cli(queue_dir, "release", array_id).stdout
    assert released == f"{array_id}: 10 elements released (2 pending, 8 waiting)\n"
    cancelled = cli(queue_dir, "cancel", other, array_id).stdout.splitlines()
    assert cancelled == [f"{other} cancelled", f"{array_id}: 10 elements cancelled"]
    again = cli(queue_dir, "cancel", array_id)
    assert again.returncode == 2 and "no element to cancel" in again.stderr


def test_logs_of_an_array_says_to_name_one_element(queue_dir: Path) -> None:
    array_id = _submit(queue_dir, "--array", "3-4", "--", "true")
    result = cli(queue_dir, "logs", array_id)
    assert result.returncode == 2 and f"jobmagics logs {array_id}_INDEX" in result.stderr


def test_wait_on_an_array_fails_if_an_element_failed_and_retry_runs_only_that_one(
        queue_dir: Path, worker: WorkerProcess) -> None:
    array_id = _submit(queue_dir, "--array", "0-3", "--", "sh", "-c", "test {index} -ne 2")
    result = cli(queue_dir, "wait", array_id, "--timeout", "60")
    assert result.returncode == 1
    assert f"{array_id} failed (3 completed, 1 failed)" in result.stderr
    retried = cli(queue_dir, "retry", array_id)
    assert retried.stdout.startswith(f"{array_id}: 1 element retried (")
    cli(queue_dir, "wait", array_id, "--timeout", "60")
    q = jobmagics.Queue(queue_dir)
    assert [j.record.attempt for j in q.array(array_id).elements] == [1, 1, 2, 1]


def test_a_job_after_an_array_starts_once_every_element_completed(
        queue_dir: Path, worker: WorkerProcess) -> None:
    array_id = _submit(queue_dir, "--array", "0-3%2", "--hold", "--", "sleep", "0.2")
    after = _submit(queue_dir, "--after", array_id, "--", "true")
    q = jobmagics.Queue(queue_dir)
    assert q.get(after).state is State.WAITING
    cli(queue_dir, "release", array_id)
    assert cli(queue_dir, "wait", after, array_id, "--timeout", "60").returncode == 0
    ends = [job.record.finished_at or 0.0 for job in q.array(array_id).elements]
    started = q.get(after).record.started_at
    assert started is not None and started >= max(ends)


@pytest.mark.parametrize(("spec", "says"), [
    ("0-9x", "bad array spec"), ("0-9%0", "P >= 1"), ("5-3", "empty range"), ("", "bad array"),
    ("1,1", "distinct"),
])
def test_a_bad_array_spec_is_one_line_exit_2_and_queues_nothing(queue_dir: Path, spec: str,
                                                                 says: str) -> None:
    result = cli(queue_dir, "submit", "--array", spec, "--", "true")
    assert result.returncode == 2 and result.stdout == ""
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert jobmagics.Queue(queue_dir).count() == 0
    assert jobmagics.Queue(queue_dir).arrays() == []
