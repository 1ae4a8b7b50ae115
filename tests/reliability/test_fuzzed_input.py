"""Scenario 6: bad input, fuzzed. Every call succeeds or raises a ``JobmagicsError`` with a
message; an error never changes the database; the CLI never shows a traceback."""
from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobmagics
from jobmagics.cli import main as cli_main
from tests.reliability.invariants import sized

EXAMPLES = sized(150, 2000)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# bytes that are not UTF-8 reach Python from argv and file names as lone surrogates
not_utf8 = st.lists(st.sampled_from(["a", "=", "/", "\udcff", "\udce9", "\udc80", "\ud800"]), min_size=1,
                    max_size=6).map("".join)
texts = st.one_of(st.text(max_size=40), st.text(alphabet="\x00./-_ aZ9=", max_size=12), not_utf8,
                  st.sampled_from(["", "..", "../..", "a/../../b", "hardware", "gpu=2", "\x00", "x" * 300]))
numbers = st.one_of(st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none())
anything = st.one_of(texts, numbers, st.lists(texts, max_size=3), st.dictionaries(texts, texts, max_size=2))
job_ids = st.one_of(texts, st.from_regex(r"JOB-\d{8}-\d{5,7}", fullmatch=True), st.integers(), st.none())
memories = st.one_of(texts, numbers, st.from_regex(r"\d{1,25}(\.\d{1,3})?\s?[kmgtpKMGTP]?i?[bB]?", fullmatch=True))


@pytest.fixture(scope="module")
def fuzz_queue() -> Iterator[jobmagics.Queue]:
    with tempfile.TemporaryDirectory(prefix="jm-fuzz-") as base:
        q = jobmagics.Queue(Path(base) / "queue")
        q.submit(command=["true"], name="parent")
        yield q


def snapshot(q: jobmagics.Queue) -> tuple[Any, ...]:
    read = q.store.db.read
    counts = tuple(read(f"SELECT count(*) FROM {t}")[0][0] for t in ("jobs", "events", "payloads", "deps", "results"))
    return counts + (read("SELECT coalesce(sum(n), 0) FROM counters")[0][0],
                     tuple(tuple(r) for r in read("SELECT * FROM settings ORDER BY key")),
                     tuple(tuple(r) for r in read("SELECT * FROM resources ORDER BY name")))


def succeeds_or_says_why(q: jobmagics.Queue, call: Callable[[], Any]) -> None:
    before = snapshot(q)
    try:
        call()
    except jobmagics.JobmagicsError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        assert snapshot(q) == before, f"the database changed although the call failed: {exc}"


@FUZZ
@given(name=anything, priority=numbers | texts, resources=anything, cpus=numbers | texts, memory=memories,
       after=st.one_of(job_ids, st.lists(job_ids, max_size=2)), timeout=numbers | texts, retries=numbers | texts,
       env=st.one_of(st.dictionaries(texts, texts | numbers, max_size=3), anything), cwd=texts | st.none(),
       hold=st.booleans())
def test_fuzzed_command_submissions_succeed_or_raise_a_clear_error_and_change_nothing(
        fuzz_queue: jobmagics.Queue, **options: Any) -> None:
    succeeds_or_says_why(fuzz_queue, lambda: fuzz_queue.submit(command=["true"], **options))


@FUZZ
@given(command=st.one_of(st.lists(texts | st.integers(), max_size=3), texts, st.none()), code=st.one_of(texts, st.none()),
       experiment=st.one_of(texts, st.none()), backend=texts, retry_delay=numbers | texts)
def test_fuzzed_job_bodies_succeed_or_raise_a_clear_error_and_change_nothing(
        fuzz_queue: jobmagics.Queue, command: Any, code: Any, experiment: Any, backend: Any, retry_delay: Any) -> None:
    succeeds_or_says_why(fuzz_queue, lambda: fuzz_queue.submit(
        command, code=code, experiment=experiment, backend=backend, retry_delay=retry_delay))


@FUZZ
@given(job_id=job_ids, action=st.sampled_from(["get", "cancel", "hold", "release", "retry", "delete", "events"]),
       state=anything, limit=numbers, user=texts | st.none())
def test_fuzzed_ids_and_filters_succeed_or_raise_a_clear_error_and_change_nothing(
        fuzz_queue: jobmagics.Queue, job_id: Any, action: str, state: Any, limit: Any, user: Any) -> None:
    succeeds_or_says_why(fuzz_queue, lambda: getattr(fuzz_queue, action)(job_id))
    succeeds_or_says_why(fuzz_queue, lambda: fuzz_queue.jobs(state=state, limit=limit, user=user))
    succeeds_or_says_why(fuzz_queue, lambda: fuzz_queue.history(state=state, limit=limit))


@FUZZ
@given(action=st.one_of(st.sampled_from(["cancel", "hold", "release", "retry", "delete"]), texts),
       ids=st.one_of(st.lists(st.one_of(job_ids, st.just("parent")), max_size=4), texts, st.none()))
def test_fuzzed_moves_on_several_ids_act_on_all_or_raise_and_change_nothing(
        fuzz_queue: jobmagics.Queue, action: Any, ids: Any) -> None:
    parent = fuzz_queue.jobs(name="parent")[0].id
    if isinstance(ids, list):
        ids = [parent if i == "parent" else i for i in ids]
    succeeds_or_says_why(fuzz_queue, lambda: fuzz_queue.apply(action, ids))
    if fuzz_queue.get(parent).state.value != "pending":      # put the parent back for the next example
        if not fuzz_queue.get(parent).done:
            fuzz_queue.apply("cancel", [parent])
        fuzz_queue.apply("retry", [parent])


@FUZZ
@given(fragment=texts)
def test_fuzzed_queue_paths_open_a_queue_or_raise_a_clear_error(fragment: str) -> None:
    with tempfile.TemporaryDirectory(prefix="jm-fuzz-path-") as base:
        sandbox = Path(base) / "a" / "b"                      # '..' twice still lands inside base
        sandbox.mkdir(parents=True)
        path = str(sandbox / fragment.replace("../../..", "x")) if fragment else ""
        try:
            jobmagics.Queue(path or str(sandbox))
        except jobmagics.JobmagicsError as exc:
            assert str(exc).strip()


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli_main(argv)
        except SystemExit as exit_:                  # argparse's own usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, err.getvalue()


cli_submit_options = st.lists(st.tuples(st.sampled_from(
    ["--name", "--priority", "--memory", "--resource", "--after", "--timeout", "--retries", "--cpus", "--cwd", "--env"]),
    (texts | memories).map(str)), max_size=4)


@FUZZ
@given(options=cli_submit_options, command=st.lists(texts, max_size=3), code=st.one_of(st.none(), texts))
def test_fuzzed_cli_submissions_exit_0_or_2_with_one_line_and_no_traceback(
        fuzz_queue: jobmagics.Queue, options: list[tuple[str, str]], command: list[str], code: str | None) -> None:
    argv = ["--queue", str(fuzz_queue.path), "submit", *[part for pair in options for part in pair]]
    argv += ["--code", code] if code is not None else ["--", *command]
    before = snapshot(fuzz_queue)
    status, err = run_cli(argv)
    assert status in (0, 2) and "Traceback" not in err, (argv, status, err)
    if status == 2:
        assert err.strip() and snapshot(fuzz_queue) == before, (argv, err)


@FUZZ
@given(verb=st.sampled_from(["status", "logs", "cancel", "retry", "hold", "release", "delete", "wait", "queue",
                             "history"]), job_id=job_ids.map(str),
       extra=st.lists(texts, max_size=2))
def test_fuzzed_cli_verbs_on_fuzzed_ids_exit_cleanly_with_no_traceback(
        fuzz_queue: jobmagics.Queue, verb: str, job_id: str, extra: list[str]) -> None:
    argv = ["--queue", str(fuzz_queue.path), verb, job_id, *extra] + (["--timeout", "0.01"] if verb == "wait" else [])
    before = snapshot(fuzz_queue)
    status, err = run_cli(argv)
    assert status in (0, 1, 2) and "Traceback" not in err, (argv, status, err)
    if status == 2:
        assert err.strip() and snapshot(fuzz_queue) == before, (argv, err)


@pytest.mark.parametrize("what", ["code over 16 MB", "an env value over 1 MB", "a 2 MB argument", "a 64 MB function argument"])
def test_huge_payloads_are_stored_whole_or_refused_with_a_clear_error(fuzz_queue: jobmagics.Queue, what: str) -> None:
    big = "x" * (1 << 20)
    calls: dict[str, Callable[[], Any]] = {
        "code over 16 MB": lambda: fuzz_queue.submit(code="#" + big * 16),
        "an env value over 1 MB": lambda: fuzz_queue.submit(command=["true"], env={"BIG": big + "x"}),
        "a 2 MB argument": lambda: fuzz_queue.submit(command=["echo", big * 2]),
        "a 64 MB function argument": lambda: fuzz_queue.submit(function=len, args=(b"x" * (64 << 20),)),
    }
    succeeds_or_says_why(fuzz_queue, calls[what])
    assert fuzz_queue.store.integrity_check() == "ok"
