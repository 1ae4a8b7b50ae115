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
from jobmagics.cli.tables import job_detail
from jobmagics.errors import InvalidJob
from jobmagics.model import JobSpec
from jobmagics.server.views import summary
from kernel_worker.executors import kernel_prelude
from kernel_worker.executors.kernel_session import kernel_call
from kernel_worker.kinds import EXECUTIONS, KindExecution, execution_of, forkable_runner
from tests.conftest import WorkerProcess


# ---- one declaration ------------------------------------------------------------------
def test_every_registered_kind_has_a_way_to_run_on_the_worker() -> None:
    assert set(EXECUTIONS) == set(kinds.KINDS)
    for name, execution in EXECUTIONS.items():
        assert execution.kind is kinds.KINDS[name]
        assert (execution.runner is None) != (execution.argv is None)   # a process runs one


def test_a_kind_runs_either_a_runner_or_its_own_program_never_both_nor_neither() -> None:
    for runner, argv in [(None, None), ("kernel_worker.runners.python_job", lambda job: ["true"])]:
        with pytest.raises(ValueError, match="a runner or their own argv"):
            KindExecution(kinds.PYTHON, runner=runner, argv=argv)


def test_every_runner_is_a_module_with_a_main_and_forked_ones_take_the_zygotes_queue() -> None:
    for execution in EXECUTIONS.values():
        if execution.runner is None:
            continue
        main = importlib.import_module(execution.runner).main
        assert list(inspect.signature(main).parameters)[:2] == ["queue_path", "job_id"]
        if execution.forkable:
            assert "queue" in inspect.signature(main).parameters


def test_the_registry_holds_exactly_the_four_kinds_of_the_design_and_the_model_names_them() -> None:
    assert model.KINDS == ("command", "python", "function", "experiment") == tuple(kinds.KINDS)


def test_each_kind_is_chosen_by_a_keyword_of_queue_submit() -> None:
    keywords = inspect.signature(jobmagics.Queue.submit).parameters
    for kind in kinds.KINDS.values():
        assert kind.keyword in keywords
        assert kinds.kind_of_submission({kind.keyword: object()}) is kind


def test_only_jobs_whose_output_a_kernel_captures_wait_for_it_while_they_run() -> None:
    for kind in kinds.KINDS.values():
        from_kernel = kind.live_output == "outputs"
        assert (kind.live_source(False, terminal=False) is None) == from_kernel, kind.name
        assert kinds.live_source(kind.name, outputs_exist=False, terminal=True) == "log"
        assert kinds.live_source(kind.name, outputs_exist=True, terminal=False) == "outputs"
    assert kinds.live_source("banana", outputs_exist=False, terminal=False) == "log"


def test_a_failure_names_the_logs_last_line_only_where_that_line_is_the_jobs_own_error() -> None:
    line = "ZeroDivisionError: division by zero"
    for kind in kinds.KINDS.values():
        named = kind.describe_failure("exit code 1", line)
        assert named == (f"{line} (exit code 1)" if kind.error_ends_log else "exit code 1")
        assert kind.describe_failure("exit code 1", "MemoryError", telling=True) \
            == "MemoryError (exit code 1)"
        assert kind.describe_failure("exit code 1", None) == "exit code 1"


# ---- what a job runs, in one line -------------------------------------------------------
@pytest.mark.parametrize(("job", "text"), [
    (JobSpec(kind="command", command=["echo", "a b", "it's"]), """echo 'a b' 'it'"'"'s'"""),
    (JobSpec(kind="python", code="\n  x = 1\ny = 2\n"), "x = 1 ..."),
    (JobSpec(kind="python", code="print(1)"), "print(1)"),
    (JobSpec(kind="function", payload=b"pickled"), "(function)"),
    (JobSpec(kind="experiment", experiment={"target": "lab.qubits:Rabi", "config": {"n": 1}}),
     "lab.qubits:Rabi"),
    (JobSpec(kind="banana", code="print(1)"), "(banana)"),
], ids=["command", "python", "one-line python", "function", "experiment", "unknown"])
def test_what_a_job_runs_is_said_by_its_kind_on_one_line(job: JobSpec, text: str) -> None:
    assert kinds.describe(job) == text


def test_a_job_whose_kind_has_nothing_to_say_is_described_by_its_kinds_name() -> None:
    for kind in kinds.KINDS.values():
        assert kind.describe(JobSpec(kind=kind.name)) == f"({kind.name})"


def test_a_description_is_cut_to_the_width_asked_for_and_says_so() -> None:
    many = JobSpec(kind="command", command=["a"] * 150)
    assert kinds.describe(many) == " ".join(["a"] * 150)
    assert kinds.describe(many, 200) == " ".join(["a"] * 150)[:199] + "…"
    huge = JobSpec(kind="command", command=["echo", "y" * 5000])
    assert kinds.describe(huge, 200) == "echo " + "y" * 194 + "…"
    assert kinds.describe(JobSpec(kind="python", code="print(1)"), 200) == "print(1)"


def test_the_rest_api_and_the_cli_describe_a_job_as_its_kind_does(queue: jobmagics.Queue) -> None:
    job = queue.submit(["echo", "a b"])
    record = queue.read_record(job.id)
    assert summary(record) == kinds.describe(record) == "echo 'a b'"
    assert "      runs  echo 'a b'" in job_detail(job, queue.events(job.id)).splitlines()


# ---- unknown kinds at every door --------------------------------------------------------
def test_an_unknown_kind_is_refused_at_submission_naming_the_kinds() -> None:
    message = f"unknown job kind 'banana'; kinds are {', '.join(kinds.KINDS)}"
    with pytest.raises(InvalidJob, match=re.escape(message)):
        JobSpec(kind="banana", code="print(1)").validate()


@pytest.mark.parametrize("bodies", [{}, {k.keyword: object() for k in kinds.KINDS.values()}],
                         ids=["none", "every kind's"])
def test_a_submission_gives_exactly_one_body(queue: jobmagics.Queue,
                                             bodies: dict[str, object]) -> None:
    with pytest.raises(InvalidJob, match=r"^give exactly one of ") as raised:
        queue.submit(**bodies)  # type: ignore[arg-type]
    assert all(k.example in str(raised.value) for k in kinds.KINDS.values())
    assert queue.jobs() == []


def test_a_list_of_words_reads_as_a_sentence() -> None:
    assert [kinds.one_of(words) for words in ([], ["a"], ["a", "b"], ["a", "b", "c"])] \
        == ["", "a", "a or b", "a, b or c"]


def test_a_kind_the_zygote_may_not_fork_is_refused_by_it() -> None:
    for name, execution in EXECUTIONS.items():
        if execution.forkable:
            assert forkable_runner(name) == execution.runner
        else:
            with pytest.raises(InvalidJob, match=f"{name} jobs are not forked"):
                forkable_runner(name)
    assert not EXECUTIONS["command"].forkable       # it runs its own program, not a runner
    assert any(execution.forkable for execution in EXECUTIONS.values())
    for unknown in (forkable_runner, execution_of):
        with pytest.raises(InvalidJob, match="unknown job kind 'banana'"):
            unknown("banana")


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
    assert job.error == f"unknown job kind 'banana'; kinds are {', '.join(kinds.KINDS)}"
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


def test_the_kinds_the_service_gates_at_the_instrument_are_those_the_worker_runs_in_a_kernel() -> None:
    for name, kind in kinds.KINDS.items():
        assert kind.in_instrument_kernel == (EXECUTIONS[name].kernel_work is not None), name
