"""Fixtures for a system queue tried by real accounts: the queue in a folder the accounts can
reach, its service as a real root process, two members of the lab group and one outsider.

Root only (accounts are made with useradd): on CI, which runs as root, these tests run; run
as anyone else they fail saying so, never skip."""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmagics
from tests.accounts import LAB_GROUP, account_python, ensure_lab_group, ensure_other_user
from tests.service.running import Lab, ServiceProcess, make_system_queue

SECOND_MEMBER = "jmtest_bob"
OUTSIDER = "jmtest_eve"


@pytest.fixture(scope="session")
def lab() -> Lab:
    if os.geteuid() != 0:
        pytest.fail("the system queue tests make Unix accounts and start the service as root:"
                    " run the suite as root (CI does)", pytrace=False)
    group = ensure_lab_group()
    assert group == LAB_GROUP
    alice = ensure_other_user(group)
    _ensure_account(SECOND_MEMBER, group)
    _ensure_account(OUTSIDER, None)
    account_python()
    return Lab(group, alice, SECOND_MEMBER, OUTSIDER)


def _ensure_account(user: str, group: str | None) -> None:
    """``user`` exists, in ``group`` (if any), as tests/accounts.py makes its accounts."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                       check=True)
    if group is not None and user not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "-aG", group, user], check=True)


@pytest.fixture
def queue_base() -> Iterator[Path]:
    """A folder under /tmp the accounts may enter (root's pytest tmp is closed to them)."""
    base = Path(tempfile.mkdtemp(prefix="jm-system-", dir="/tmp"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def system_queue(lab: Lab, queue_base: Path) -> Path:
    """A fresh system queue of the lab group, no admins but root."""
    return make_system_queue(queue_base / "queue", lab.group)


@pytest.fixture
def service(system_queue: Path, queue_base: Path) -> Iterator[ServiceProcess]:
    """Its service, running as root, with a worker offering ``hardware`` (capacity 1).
    The service's log is printed at teardown: pytest shows it when the test failed."""
    running = ServiceProcess(system_queue, queue_base / "service.log").start()
    yield running
    running.stop()
    print(f"---- the service's log ({running.log}) ----\n{running.output()}")


@pytest.fixture
def root_queue(system_queue: Path) -> jobmagics.Queue:
    """The queue as root opens it: straight from the database, the service's own view."""
    return jobmagics.Queue(system_queue)
