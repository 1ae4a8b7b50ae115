"""What SLURM and PBS share, without a cluster: array scripts and options, afterok, the files
a job exchanges with the worker (and who may write them), progress reported as a file."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import jobmagics
from jobmagics.context import pack_report, report_path, unpack_report, write_report
from jobmagics.errors import QueueError
from jobmagics.model import JobRecord
from kernel_worker.executors import JobContext
from kernel_worker.executors.batch import Batch
from kernel_worker.executors.batch_files import Inbox, write_input
from kernel_worker.executors.slurm import SlurmSystem, array_script
from kernel_worker.runners.files import FileStore


def _elements(queue: jobmagics.Queue, count: int, **options: object) -> list[JobRecord]:
    array = queue.submit_array(command=["echo", "{index}"], items=range(count),  # type: ignore[arg-type]
                               backend="slurm", **options)
    return queue.store.elements(array.id)


def test_an_array_script_runs_each_element_by_its_task_index(queue: jobmagics.Queue) -> None:
    elements = _elements(queue, 3)
    script = array_script(Batch(elements, elements[0].array_id), JobContext(queue.layout, "w"))
    assert script.startswith("#!/bin/sh\n") and 'case "$SLURM_ARRAY_TASK_ID" in' in script
    for element in elements:
        assert (f"{element.array_index}) JOBMAGICS_JOB_ID={element.id} JOBMAGICS_ATTEMPT=1"
                f" JOBMAGICS_ARRAY_ID={element.array_id} JOBMAGICS_ARRAY_INDEX="
                f"{element.array_index}; export") in script
        assert f"exec echo {element.array_index} ;;" in script
    assert script.rstrip().endswith("exit 2")


def test_an_array_job_s_options_carry_its_indexes_throttle_and_one_log_per_element(
        queue: jobmagics.Queue) -> None:
    elements = [e for e in _elements(queue, 6) if e.array_index != 3]
    options = SlurmSystem._array_options(Batch(elements, elements[0].array_id, 2),
                                         JobContext(queue.layout, "w"), None)
    assert "--array=0-2,4-5%2" in options
    assert f"--output={queue.path / 'logs'}/{elements[0].array_id}_%a.log" in options
    assert f"--job-name={elements[0].array_id}" in options


def test_afterok_names_a_parent_array_by_its_array_job_and_others_by_their_ids() -> None:
    batch = Batch([], after=[("12_0", True), ("12_1", True), ("15", False), ("16_3", False)])
    assert SlurmSystem._after(batch) == ["12", "15", "16_3"]


def test_a_report_is_written_whole_and_read_back(tmp_path: Path) -> None:
    path = report_path(tmp_path, "JOB-20261129-00001_3", 2, "result")
    assert path.name == "JOB-20261129-00001_3.2.result"
    write_report(path, pack_report({"ok": True}, b"\x00\nblob"))
    assert unpack_report(path.read_bytes()) == ({"ok": True}, b"\x00\nblob")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]      # no temporary left
    with pytest.raises(ValueError):
        unpack_report(b"not json\n")


def test_the_inbox_takes_a_result_once_and_only_from_the_job_s_owner(
        tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    path = report_path(tmp_path, "JOB-20261129-00001", 1, "result")
    write_report(path, pack_report({"ok": False, "error": "ValueError: x"}, b"pickle"))
    result = inbox.result("JOB-20261129-00001", "1", None)
    assert result is not None and (result.ok, result.blob, result.error) == (False, b"pickle",
                                                                               "ValueError: x")
    assert inbox.result("JOB-20261129-00001", "1", None) is None       # taken: removed
    if os.geteuid() != 0:
        return                                  # only root can make a file of another account
    write_report(path, pack_report({"ok": True}, b"forged"))
    os.chown(path, 65534, 65534)
    assert inbox.result("JOB-20261129-00001", "1", 4242) is None       # not the owner's: ignored
    assert not path.exists()


def test_the_inbox_reads_the_progress_of_live_attempts_only(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    for job_id, attempt in (("JOB-20261129-00001", 1), ("JOB-20261129-00002", 1),
                            ("JOB-20261129-00001", 2)):
        write_report(report_path(tmp_path, job_id, attempt, "progress"),
                     pack_report({"progress": 0.25, "stage": f"{job_id} {attempt}"}))
    found = list(inbox.progress({("JOB-20261129-00001", "2"): None}))
    assert [(p.job_id, p.progress, p.stage) for p in found] == [
        ("JOB-20261129-00001", 0.25, "JOB-20261129-00001 2")]
    assert len(list(tmp_path.iterdir())) == 2           # the others are left for their workers


def test_a_runner_on_a_compute_node_reads_its_input_and_writes_its_result_as_files(
        queue: jobmagics.Queue, tmp_path: Path) -> None:
    job = queue.store.get(queue.submit(code="y = 1", options={"pull": ["y"]}).id)
    write_input(tmp_path, job, b"pushed", None)
    store = FileStore(tmp_path, job.id, "1")
    assert store.get(job.id).code == "y = 1" and store.get(job.id).options.pull == ["y"]
    assert store.payload(job.id) == b"pushed"
    store.save_result(job.id, True, b"pulled")
    result = Inbox(tmp_path).result(job.id, "1", None)
    assert result is not None and result.ok and result.blob == b"pulled"
    with pytest.raises(QueueError, match="never opens"):
        store.set_progress(job.id, 0.5, None)
    with pytest.raises(QueueError, match="cannot read the job's input"):
        FileStore(tmp_path, job.id, "2").payload(job.id)


def test_progress_in_a_batch_job_goes_to_a_file_with_all_it_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobmagics import context

    monkeypatch.setenv(context.JOB_ID_VAR, "JOB-20261129-00009")
    monkeypatch.setenv(context.QUEUE_VAR, str(tmp_path / "no-queue-here"))
    monkeypatch.setenv(context.ATTEMPT_VAR, "3")
    monkeypatch.setenv(context.REPORT_DIR_VAR, str(tmp_path))
    monkeypatch.setattr(context, "_throttle", {"last_write": 0.0, "stage": None,
                                               "fraction": None})
    jobmagics.progress(0.0, stage="loading")
    jobmagics.progress(1.0)
    header, _ = unpack_report(report_path(tmp_path, "JOB-20261129-00009", 3,
                                          "progress").read_bytes())
    assert header == {"progress": 1.0, "stage": "loading"}
    assert not (tmp_path / "no-queue-here").exists()         # no queue was opened
