"""The registry of job kinds: every kind is declared once (``jobmagics.kinds``), has its way to
run on the worker (``kernel_worker.kinds``), and a kind that is not registered is an error at
every door, never run as some other kind."""
from __future__ import annotations

import importlib
import inspect
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import jobmagics
from jobmagics import kinds, model
from jobmagics.errors import InvalidJob
from jobmagics.model import JobSpec
from kernel_worker.executors import kernel_prelude
from kernel_worker.executors.kernel_session import kernel_call
from kernel_worker.kinds import EXECUTIONS, execution_of, forkable_runner
from tests.conftest import WorkerProcess


# ---- one declaration ------------------------------------------------------------------
def test_every_registered_kind_has_a_way_to_run_on_the_worker() -> None:
    assert set(EXECUTIONS) == set(kinds.KINDS)
    for name, execution in EXECUTIONS.items():
        assert execution.kind is kinds.KINDS[name]
        assert execution.runner is not None or execution.kernel_work is not None or name == "command"


def test_every_runner_is_a_module_with_a_main_and_forked_ones_take_the_zygotes_queue() -> None:
    for execution in EXECUTIONS.values():
        if execution.runner is None:
            continue
        main = importlib.import_module(execution.runner).main
        assert list(inspect.signature(main).parameters)[:2] == ["queue_path", "job_id"]
        if execution.forkable:
            assert "queue" in inspect.signature(main).parameters


def test_the_models_kind_names_are_the_registrys() -> None:
    assert model.KINDS == ("command", "python", "function", "experiment") == tuple(kinds.KINDS)


def test_each_kind_is_chosen_by_a_keyword_of_queue_submit() -> None:
    keywords = inspect.signature(jobmagics.Queue.submit).parameters
    for kind in kinds.KINDS.values():
        assert kind.keyword in keywords
        assert kinds.kind_of_submission({kind.keyword: object()}) is kind


def test_only_python_code_jobs_wait_for_a_kernels_outputs_while_they_run() -> None:
    waiting = [k.name for k in kinds.KINDS.values() if k.live_source(False, terminal=False) is None]
    assert waiting == ["python"]
    assert kinds.live_source("python", outputs_exist=False, terminal=True) == "log"
    assert all(kinds.live_source(name, outputs_exist=True, terminal=False) == "outputs"
               for name in kinds.KINDS)
    assert kinds.live_source("banana", outputs_exist=False, terminal=False) == "log"


def test_a_failure_names_the_logs_last_line_only_where_that_line_is_the_jobs_own_error() -> None:
    line = "ZeroDivisionError: division by zero"
    assert kinds.KINDS["python"].describe_failure("exit code 1", line) == f"{line} (exit code 1)"
    assert kinds.KINDS["command"].describe_failure("exit code 1", "done 3/4") == "exit code 1"
    assert kinds.KINDS["command"].describe_failure("exit code 1", "MemoryError", telling=True) \
        == "MemoryError (exit code 1)"


# ---- unknown kinds at every door --------------------------------------------------------
def test_an_unknown_kind_is_refused_at_submission_naming_the_kinds() -> None:
    with pytest.raises(InvalidJob, match="unknown job kind 'banana'; kinds are command, python,"
                                         " function, experiment"):
        JobSpec(kind="banana", code="print(1)").validate()


@pytest.mark.parametrize("bodies", [{}, {"command": ["true"], "code": "print(1)"}])
def test_a_submission_gives_exactly_one_body(queue: jobmagics.Queue,
                                             bodies: dict[str, object]) -> None:
    message = "give exactly one of command=[...], code='...', function=f or experiment='module:Class'"
    with pytest.raises(InvalidJob, match=re.escape(message)):
        queue.submit(**bodies)  # type: ignore[arg-type]
    assert queue.jobs() == []


def test_a_kind_the_zygote_may_not_fork_is_refused_by_it() -> None:
    assert forkable_runner("function") == "kernel_worker.runners.function_job"
    for name, message in [("command", "not forked"), ("experiment", "not forked"),
                          ("banana", "unknown job kind 'banana'")]:
        with pytest.raises(InvalidJob, match=message):
            forkable_runner(name)
    with pytest.raises(InvalidJob, match="unknown job kind"):
        execution_of("banana")


def _write_row_by_hand(queue: jobmagics.Queue, job_id: str, kind: str, code: str) -> None:
    """A job as a row written with sqlite3 (an old script, a newer jobmagics), not submitted."""
    with sqlite3.connect(queue.layout.db, timeout=30) as conn:
        conn.execute("INSERT INTO jobs (id, kind, user, host, state, submitted_at, cwd, code)"
                     " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                     (job_id, kind, queue.user, queue.host, time.time(), str(queue.path), code))
    conn.close()


@pytest.mark.parametrize("worker_args", [("--no-kernel",), ()], ids=["subprocesses", "kernels"])
def test_a_row_of_an_unknown_kind_fails_at_the_worker_and_never_runs_as_python(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path,
        worker_args: tuple[str, ...]) -> None:
    marker = tmp_path / "ran"
    start_worker(*worker_args)
    _write_row_by_hand(queue, "JOB-20000101-00001", "banana", f"open({str(marker)!r}, 'w')")
    job = queue.get("JOB-20000101-00001").wait(60)
    assert job.state == "failed"
    assert job.error == ("unknown job kind 'banana'; kinds are command, python, function,"
                         " experiment")
    assert not marker.exists()
    assert queue.submit(code="print('after')").wait(60).state == "completed"   # worker unharmed


# ---- typed calls into a job's kernel ----------------------------------------------------
def test_a_kernel_call_is_one_expression_naming_the_prelude_function_it_was_built_from() -> None:
    source = kernel_call(kernel_prelude.finish_job, "JOB-20000101-00001", "/q", ["x"], False)
    assert source == ("__import__('kernel_worker.executors.kernel_prelude', fromlist=['_'])"
                      ".finish_job('JOB-20000101-00001', '/q', ['x'], False)\n")
    compile(source, "<call>", "eval")


def test_a_kernel_call_refuses_a_function_the_kernel_cannot_import_by_name() -> None:
    def local() -> None:
        pass

    with pytest.raises(ValueError, match="not a function a kernel can import by name"):
        kernel_call(local)
