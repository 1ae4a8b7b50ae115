"""Fixtures for the SLURM tests: a real single-node SLURM, started by ``.ci/slurm-up`` when
no SLURM answers yet. A missing SLURM fails these tests (CI installs it); it never skips them."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLURM_UP = ROOT / ".ci" / "slurm-up"
SLURM_DOWN = ROOT / ".ci" / "slurm-down"
SLURM_DIR = Path(os.environ.get("JOBMAGICS_SLURM_DIR", "/tmp/jobmagics-slurm"))
DEFAULT_CONF = SLURM_DIR / "slurm.conf"
INSTALL = ("apt-get install -y slurm-wlm slurmctld slurmd slurm-client munge slurm-wlm-torque"
           " slurmdbd mariadb-server")


def _node_state(env: dict[str, str]) -> str:
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                                timeout=10, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _usable(state: str) -> bool:
    return state in ("idle", "mix", "alloc", "comp")    # "idle*": slurmd not responding


@pytest.fixture(scope="session")
def slurm() -> Iterator[str]:
    """A SLURM that answers; yields its ``SLURM_CONF`` (also set in ``os.environ``, so the
    workers the tests start inherit it). A SLURM found answering is left as it was; the
    daemons this session had to start are stopped at its end, by their PID files."""
    missing = [t for t in ("sbatch", "squeue", "scancel", "sinfo") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"SLURM is not installed ({', '.join(missing)} missing): {INSTALL}", pytrace=False)
    saved = os.environ.get("SLURM_CONF")
    if not saved and DEFAULT_CONF.exists():
        os.environ["SLURM_CONF"] = str(DEFAULT_CONF)
    started: list[str] = []
    try:
        if not _usable(_node_state(dict(os.environ))):
            os.environ["SLURM_CONF"] = _start_slurm(started)
        yield os.environ["SLURM_CONF"]
    finally:
        conf = os.environ.get("SLURM_CONF", "")
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
        _stop_slurm(started, conf)


def _daemons_alive() -> dict[str, int]:
    """The SLURM daemons (and munged, and accounting's) named by slurm-up's PID files that
    are alive now."""
    pid_files = {"slurmd": SLURM_DIR / "slurmd.pid", "slurmctld": SLURM_DIR / "slurmctld.pid",
                 "slurmdbd": SLURM_DIR / "slurmdbd.pid",
                 "mariadbd": SLURM_DIR / "mariadb" / "mariadbd.pid",
                 "munged": Path("/run/munge/munged.pid")}
    alive = {}
    for name, pid_file in pid_files.items():
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        if _exists(pid):
            alive[name] = pid
    return alive


def _start_slurm(started: list[str]) -> str:
    """Runs slurm-up; appends to ``started`` the daemons it started (even when it then fails)."""
    if os.geteuid() != 0:
        pytest.fail(f"no SLURM answers and {SLURM_UP} needs root to start one", pytrace=False)
    before = _daemons_alive()
    try:
        result = subprocess.run([str(SLURM_UP), str(SLURM_DIR)], capture_output=True, text=True,
                                timeout=120, check=False)
    finally:
        started += [name for name, pid in _daemons_alive().items() if before.get(name) != pid]
    if result.returncode != 0:
        pytest.fail(f"{SLURM_UP} failed:\n{result.stderr}", pytrace=False)
    conf = result.stdout.strip().splitlines()[-1].removeprefix("export SLURM_CONF=")
    if not _usable(_node_state(dict(os.environ, SLURM_CONF=conf))):
        pytest.fail(f"{SLURM_UP} ran but sinfo shows no usable node", pytrace=False)
    return conf


def _stop_slurm(started: list[str], conf: str) -> None:
    """Stops exactly the daemons this session started, and checks that they are gone. On a
    cluster it started, its jobs are cancelled first: a job step outlives slurmd otherwise."""
    if not started:
        return
    if "slurmctld" in started:
        _cancel_every_job(dict(os.environ, SLURM_CONF=conf))
    pids = {name: pid for name, pid in _daemons_alive().items() if name in started}
    result = subprocess.run([str(SLURM_DOWN), str(SLURM_DIR), *started], capture_output=True,
                            text=True, timeout=120, check=False)
    left = {name: pid for name, pid in pids.items() if _exists(pid)}
    if result.returncode != 0 or left:
        pytest.fail(f"{SLURM_DOWN} left {left or 'nothing'} running:\n{result.stderr}", pytrace=False)


def _cancel_every_job(env: dict[str, str]) -> None:
    """Cancels the cluster's jobs and waits (up to 30 s) until none is left."""
    for _ in range(300):
        listing = subprocess.run(["squeue", "-h", "-o", "%A"], capture_output=True, text=True,
                                 timeout=10, env=env, check=False)
        jobs = listing.stdout.split()
        if listing.returncode != 0 or not jobs:
            return
        subprocess.run(["scancel", *jobs], capture_output=True, timeout=10, env=env, check=False)
        time.sleep(0.1)


def _exists(pid: int) -> bool:
    """Alive and not a zombie (this machine's PID 1 may be slow to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _shared_conftest():  # type: ignore[no-untyped-def]
    """tests/conftest.py as a module (both conftests are named ``conftest``)."""
    spec = importlib.util.spec_from_file_location("jobmagics_tests_conftest", ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., object]:
    """The suite's ``wait_for(predicate, timeout)`` helper."""
    return _shared_conftest().wait_for


@pytest.fixture
def tool_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[list[str]]]:
    """The real SLURM and PBS tools behind wrappers that log each call (set up before the
    worker starts: it inherits the PATH). ``tool_calls("sbatch")``: the argv of each call
    of sbatch since, without the tool's name."""
    folder = tmp_path / "logged-tools"
    folder.mkdir()
    for tool in ("sbatch", "scancel", "qsub", "qdel"):
        real = shutil.which(tool)
        if real is None:
            continue
        wrapper = folder / tool
        wrapper.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> {folder}/{tool}.calls\n"
                           f"printf '\\n' >> {folder}/{tool}.calls\nexec {real} \"$@\"\n")
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', os.defpath)}")

    def calls(tool: str) -> list[list[str]]:
        log = folder / f"{tool}.calls"
        lines = log.read_text().split("\n") if log.exists() else []
        return [line.rstrip("\0").split("\0") for line in lines if line]

    return calls
