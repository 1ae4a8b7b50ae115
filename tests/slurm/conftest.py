"""Fixtures for the SLURM tests: a real single-node SLURM, started by ``.ci/slurm-up`` when
no SLURM answers yet. A missing SLURM fails these tests (CI installs it); it never skips them."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLURM_UP = ROOT / ".ci" / "slurm-up"
DEFAULT_CONF = Path("/tmp/jobmagics-slurm/slurm.conf")
INSTALL = "apt-get install -y slurm-wlm slurmctld slurmd slurm-client munge"


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
    workers the tests start inherit it). Daemons started here are left running for the
    next session: stop them with ``.ci/slurm-down``."""
    missing = [t for t in ("sbatch", "squeue", "scancel", "sinfo") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"SLURM is not installed ({', '.join(missing)} missing): {INSTALL}", pytrace=False)
    saved = os.environ.get("SLURM_CONF")
    if not saved and DEFAULT_CONF.exists():
        os.environ["SLURM_CONF"] = str(DEFAULT_CONF)
    if not _usable(_node_state(dict(os.environ))):
        os.environ["SLURM_CONF"] = _start_slurm()
    yield os.environ["SLURM_CONF"]
    if saved is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = saved


def _start_slurm() -> str:
    if os.geteuid() != 0:
        pytest.fail(f"no SLURM answers and {SLURM_UP} needs root to start one", pytrace=False)
    result = subprocess.run([str(SLURM_UP)], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        pytest.fail(f"{SLURM_UP} failed:\n{result.stderr}", pytrace=False)
    conf = result.stdout.strip().splitlines()[-1].removeprefix("export SLURM_CONF=")
    if not _usable(_node_state(dict(os.environ, SLURM_CONF=conf))):
        pytest.fail(f"{SLURM_UP} ran but sinfo shows no usable node", pytrace=False)
    return conf


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

