"""A tqdm bar inside a job reports its progress and stage by itself, whatever runs the job:
a command's own Python, a function forked from the zygote, a python cell in a forked kernel or
in a plain subprocess. Each job stops half way until the test lets it go, so the report seen
there is the bar's, not the end's."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics import progress_bars
from jobmagics.model import State
from jobmagics.progress_bars import describe
from tests.conftest import WorkerProcess, wait_for

ROOT = Path(__file__).resolve().parents[1]

# Half way (10/20) after a pause longer than the throttle's window, so that update reports;
# then it waits for the test's go-file.
HALF_WAY = """
import os, time
from tqdm import tqdm
bar = tqdm(total=20, desc="fitting")
bar.update(9)
time.sleep(0.3)
bar.update(1)
while not os.path.exists({go!r}):
    time.sleep(0.02)
bar.update(10)
bar.close()
"""


def submit(queue: jobmagics.Queue, kind: str, tmp_path: Path) -> jobmagics.Job:
    go = str(tmp_path / "go")
    code = HALF_WAY.format(go=go)
    if kind == "command":
        script = tmp_path / "fit.py"
        script.write_text(code)
        return queue.submit([sys.executable, str(script)])
    if kind == "function":
        def half_way_function(source: str) -> str:
            exec(source)  # noqa: S102 - the same bar as the other kinds
            return "done"
        return queue.submit(function=half_way_function, args=(code,))
    return queue.submit(code=code)


@pytest.mark.parametrize("kind, worker_flags", [
    ("command", []), ("function", []), ("python", []), ("python", ["--no-kernel"])],
    ids=["command", "function-forked", "python-kernel", "python-subprocess"])
def test_a_tqdm_bar_reports_progress_and_stage(
        kind: str, worker_flags: list[str], queue: jobmagics.Queue,
        start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    start_worker("--slots", "2", *worker_flags)
    job = submit(queue, kind, tmp_path)

    def half_way() -> bool:
        record = job.refresh().record
        assert record.state in (State.PENDING, State.RUNNING), (record.state, job.log())
        return record.stage == "fitting 10/20" and record.progress == 0.5

    wait_for(half_way, timeout=60)
    (tmp_path / "go").touch()
    job.wait(60)
    assert job.state is State.COMPLETED, (job.error, job.log())
    assert job.record.stage == "fitting 20/20"


def test_a_job_that_never_imports_tqdm_does_not_load_it(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "2")

    def loaded() -> list[str]:
        import sys
        return sorted(name for name in sys.modules if name.startswith("tqdm"))

    assert queue.submit(function=loaded).result(timeout=60) == []
    command = queue.submit([sys.executable, "-c",
                            "import sys; print(any(m.startswith('tqdm') for m in sys.modules))"])
    assert command.wait(60).log().strip() == "False"


def test_a_command_still_runs_the_sitecustomize_it_had(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    start_worker("--slots", "2")
    own = tmp_path / "own-site"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import builtins\nbuiltins.LAB_SITE = 'loaded'\n")
    job = queue.submit([sys.executable, "-c", "print(LAB_SITE)"], env={"PYTHONPATH": str(own)})
    assert job.wait(60).state is State.COMPLETED, job.log()
    assert job.log().strip() == "loaded"


def test_an_environment_given_whole_gets_no_shim(worker: WorkerProcess) -> None:
    result = jobmagics.run(["/bin/sh", "-c", "echo [$PYTHONPATH]"], env={"PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True)
    assert result.stdout == "[]\n"


class Bar:
    def __init__(self, desc: str, n: float, total: float | None) -> None:
        self.desc, self.n, self.total = desc, n, total


@pytest.mark.parametrize("bars, fraction, stage", [
    ([Bar("fitting", 40, 100)], 0.4, "fitting 40/100"),
    ([Bar("epoch", 2, 5), Bar("batch: ", 50, 100)], 0.5, "epoch 2/5 · batch 50/100"),
    ([Bar("", 3, None)], None, "3"),
    ([Bar("read", 2.5, 10.0)], 0.25, "read 2.5/10"),
])
def test_nested_bars_are_one_fraction_and_one_stage(bars: list[Any], fraction: float | None,
                                                    stage: str) -> None:
    assert describe(bars) == (fraction, stage)


THROTTLED = """
import os, sys, time
from jobmagics import progress_bars
reports = []
progress_bars.install(lambda fraction, stage: reports.append((fraction, stage)))
assert "tqdm" not in sys.modules
from tqdm import tqdm
started = time.monotonic()
bar = tqdm(total=300_000, desc="tight", file=open(os.devnull, "w"))
for _ in range(300_000):
    bar.update(1)
bar.close()
print(len(reports), time.monotonic() - started, reports[-1])
"""


def test_a_tight_loop_reports_a_few_times_a_second_and_its_end() -> None:
    done = subprocess.run([sys.executable, "-c", THROTTLED], capture_output=True, text=True,
                          timeout=120, check=True, cwd=ROOT)
    count, elapsed, last = done.stdout.split(" ", 2)
    assert int(count) <= float(elapsed) * progress_bars.REPORTS_PER_S + 2
    assert last.strip() == "(1.0, 'tight 300000/300000')"
