from __future__ import annotations

import pytest

from jobmagics.errors import InvalidJob
from jobmagics.model import (
    JobSpec,
    check_job_id,
    check_text,
    dependency_cycle,
    format_job_id,
    format_memory,
    parse_memory,
    parse_resource,
)


@pytest.mark.parametrize("text, size", [("4G", 4 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29),
                                        ("100k", 102400), ("2048", 2048), (4096, 4096)])
def test_memory_sizes_are_read_like_people_write_them(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["lots", "-1G", "4X", "", "0", True])
def test_unreadable_memory_sizes_are_refused_with_a_hint(bad: object) -> None:
    with pytest.raises(InvalidJob):
        parse_memory(bad)  # type: ignore[arg-type]


def test_memory_is_shown_compactly() -> None:
    assert format_memory(4 << 30) == "4G"
    assert format_memory(None) == "-"


def test_job_ids_carry_the_day_and_grow_past_five_digits() -> None:
    assert format_job_id("20261121", 1) == "JOB-20261121-00001"
    assert format_job_id("20261121", 123456) == "JOB-20261121-123456"
    assert check_job_id("JOB-20261121-123456")


@pytest.mark.parametrize("bad", ["JOB-1", "job-20261121-00001", "", None, "JOB-20261121-00001; drop"])
def test_malformed_job_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidJob, match="not a job id"):
        check_job_id(bad)


def test_resource_capacity_is_parsed_from_name_equals_number() -> None:
    assert parse_resource("gpu=2") == ("gpu", 2)
    assert parse_resource("hardware") == ("hardware", 1)
    with pytest.raises(InvalidJob):
        parse_resource("gpu=0")
    with pytest.raises(InvalidJob):
        parse_resource("no spaces")


@pytest.mark.parametrize("field, value, message", [
    ("priority", "high", "priority"), ("priority", 10**12, "priority"), ("cpus", 0, "cpus"),
    ("retries", -1, "retries"), ("timeout", -5, "timeout"), ("timeout", "soon", "timeout"),
    ("name", "a\x00b", "NUL"), ("resources", ["bad name"], "resource"), ("after", ["JOB-x"], "job id"),
])
def test_bad_submission_fields_are_refused_before_anything_is_stored(field: str, value: object, message: str) -> None:
    spec = JobSpec(kind="command", command=["true"])
    setattr(spec, field, value)
    with pytest.raises(InvalidJob, match=message):
        spec.validate()


def test_a_shell_string_is_not_accepted_as_a_command() -> None:
    with pytest.raises(InvalidJob, match="list of arguments"):
        JobSpec(kind="command", command="rm -rf /tmp/x").validate()  # type: ignore[arg-type]


def test_python_code_that_does_not_compile_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidJob, match="line 2"):
        JobSpec(kind="python", code="x = 1\nif:\n").validate()


def test_experiments_always_hold_the_hardware() -> None:
    spec = JobSpec(kind="experiment", experiment={"target": "lab.exp:Rabi", "config": {}}).validate()
    assert spec.resources == ["hardware"]


def test_instrument_jobs_cannot_go_to_slurm() -> None:
    with pytest.raises(InvalidJob, match="SLURM"):
        JobSpec(kind="command", command=["true"], resources=["hardware"], backend="slurm").validate()


def test_python_jobs_may_use_ipython_syntax_but_not_broken_code() -> None:
    assert JobSpec(kind="python", code="%matplotlib inline\n!ls\nx = 1").validate().code.startswith("%matplotlib")
    with pytest.raises(InvalidJob, match="does not compile"):
        JobSpec(kind="python", code="%time\nif:\n").validate()


@pytest.mark.parametrize("field", ["name", "code", "cwd"])
def test_text_that_is_not_utf8_is_refused_naming_the_byte(field: str) -> None:
    """A non-UTF-8 byte from argv arrives as a lone surrogate (os.fsdecode); SQLite cannot store it."""
    spec = JobSpec(kind="python", code="print(1)", cwd="/tmp")
    setattr(spec, field, {"name": "run-\udcff", "code": "print(1)  # \udcff", "cwd": "/tmp/\udcff"}[field])
    with pytest.raises(InvalidJob, match=f"{field} is not UTF-8 text: byte 0xff"):
        spec.validate()


def test_command_arguments_keep_bytes_that_are_not_utf8_but_environment_values_do_not() -> None:
    """Arguments are OS strings (file names), stored as JSON (which keeps the surrogate), and
    reach exec as the very bytes given; only a surrogate no byte stands for is refused.
    Environment values are text users read back: they must be UTF-8."""
    spec = JobSpec(kind="command", command=["cat", "caf\udce9"]).validate()
    assert spec.command == ["cat", "caf\udce9"]
    with pytest.raises(InvalidJob, match="env 'LATIN' is not UTF-8 text: byte 0xe9"):
        JobSpec(kind="command", command=["true"], env={"LATIN": "\udce9t\udce9"}).validate()
    with pytest.raises(InvalidJob, match="lone surrogate U\\+D800"):
        JobSpec(kind="command", command=["echo", "\ud800"]).validate()
    with pytest.raises(InvalidJob, match="not UTF-8"):
        check_text("user", "\udcff")


def test_dependency_cycles_are_found_with_their_path() -> None:
    assert dependency_cycle({"A": ["A"]}) == ["A", "A"]
    assert dependency_cycle({"A": ["B"], "B": ["C"], "C": ["A"]}) == ["A", "B", "C", "A"]
    assert dependency_cycle({"A": ["X"], "B": ["A", "C"], "C": ["B"]}) == ["B", "C", "B"]
    assert dependency_cycle({"A": [], "B": ["A"], "C": ["A", "B"]}) is None
