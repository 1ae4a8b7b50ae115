"""The command line of a lab's shared queue, with real accounts (the suite runs as root, as CI
does): ``init --system``, ``service``, ``install-service``, ``admin operators``, ``allow``, and
whose jobs a ``jobmagics worker`` runs (only its starter's unless ``--serve-group``)."""
from __future__ import annotations

import grp
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmagics
from jobmagics.service.unit import unit_name
from tests.accounts import LAB_GROUP, OTHER_USER, as_account, ensure_lab_group, ensure_other_user
from tests.accounts import submit_as as submit_as_user
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]


def jobmagics_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, check=False)


def member_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``jobmagics ARGS`` run by the other test account, a member of the lab group."""
    return subprocess.run(as_account(OTHER_USER, "-m", "jobmagics", *args), capture_output=True,
                          text=True, timeout=60, cwd="/", check=False)


@pytest.fixture(scope="module")
def member() -> str:
    """A real second account in the lab group (created when missing: the suite runs as root)."""
    group = ensure_lab_group()
    if group is None:
        pytest.fail("these tests need root: they create a group and a second account",
                    pytrace=False)
    return ensure_other_user(group)


@pytest.fixture
def base(member: str) -> Iterator[Path]:
    """A folder every account can enter (root's pytest tmp is private)."""
    folder = Path(tempfile.mkdtemp(prefix="jm-cli-system-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def system_queue(base: Path) -> Path:
    folder = base / "queue"
    made = jobmagics_cli("init", str(folder), "--system", "--group", LAB_GROUP,
                         "--admin", OTHER_USER)
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture
def group_queue(base: Path) -> Path:
    folder = base / "queue"
    made = jobmagics_cli("init", str(folder), "--group", LAB_GROUP)
    assert made.returncode == 0, made.stderr
    return folder


def owner_group_mode(path: Path) -> tuple[str, str, str]:
    info = path.stat()
    return "root" if info.st_uid == 0 else str(info.st_uid), grp.getgrgid(info.st_gid).gr_name, \
        f"{stat.S_IMODE(info.st_mode):o}"


# ---- init --system --------------------------------------------------------------------------
def test_init_system_makes_a_folder_the_group_reads_and_a_database_only_root_opens(
        base: Path) -> None:
    folder = base / "queue"
    made = jobmagics_cli("init", str(folder), "--system", "--group", LAB_GROUP,
                         "--admin", OTHER_USER)
    assert made.returncode == 0, made.stderr
    assert owner_group_mode(folder) == ("root", LAB_GROUP, "750")
    assert owner_group_mode(folder / "logs") == ("root", LAB_GROUP, "750")
    assert owner_group_mode(folder / "jobs.db")[::2] == ("root", "600")
    assert json.loads((folder / "queue.json").read_text())["mode"] == "system"
    assert jobmagics.Queue(folder).admins() == [OTHER_USER]
    assert f"install-service --queue {folder}" in made.stdout      # the next step is named


def test_init_system_is_refused_to_anyone_but_root_saying_to_use_sudo(base: Path) -> None:
    refused = member_cli("init", str(base / "queue"), "--system", "--group", LAB_GROUP)
    assert refused.returncode == 2
    assert "a system queue is made by root: sudo jobmagics init" in refused.stderr
    assert not (base / "queue").exists()


def test_init_system_needs_the_group_of_its_users(base: Path) -> None:
    refused = jobmagics_cli("init", str(base / "queue"), "--system")
    assert refused.returncode == 2 and "--system needs --group GROUP" in refused.stderr


# ---- install-service ------------------------------------------------------------------------
def test_install_service_print_shows_the_unit_that_runs_this_interpreter_on_the_queue(
        system_queue: Path) -> None:
    shown = jobmagics_cli("install-service", "--queue", str(system_queue), "--resource",
                          "hardware", "--slots", "2", "--print")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert (f"ExecStart={sys.executable} -m jobmagics service --queue {system_queue}"
            " --slots 2 --resource hardware") in lines
    for setting in ("Restart=always", "KillMode=mixed", "TimeoutStopSec=30",
                    "WantedBy=multi-user.target"):
        assert setting in lines


def test_install_service_writes_the_unit_and_says_how_to_start_it_without_systemd(
        system_queue: Path, base: Path) -> None:
    units = base / "units"
    done = jobmagics_cli("install-service", "--queue", str(system_queue), "--unit-dir",
                         str(units), "--shutdown-grace", "40")
    assert done.returncode == 0, done.stderr
    unit = units / unit_name(system_queue)
    assert unit.is_file() and unit.name.startswith("jobmagics-tmp-")
    assert "TimeoutStopSec=60" in unit.read_text().splitlines()
    assert f"-m jobmagics service --queue {system_queue} --shutdown-grace 40.0" in done.stdout


def test_a_unit_name_escapes_the_queue_path_as_systemd_escape_does() -> None:
    assert unit_name(Path("/srv/lab/queue")) == "jobmagics-srv-lab-queue.service"
    assert unit_name(Path("/srv/my-lab/q 1")) == "jobmagics-srv-my\\x2dlab-q\\x201.service"
    assert unit_name(Path("/srv/.hidden")) == "jobmagics-srv-.hidden.service"
    assert unit_name(Path("/.q")) == "jobmagics-\\x2eq.service"


def test_install_service_and_service_refuse_a_queue_that_is_not_a_system_queue(
        group_queue: Path) -> None:
    for command in ("install-service", "service"):
        refused = jobmagics_cli(command, "--queue", str(group_queue), "--print"
                                if command == "install-service" else "--drain")
        assert refused.returncode == 2
        assert f"{group_queue} is not a system queue" in refused.stderr


def test_the_service_and_its_installation_are_refused_to_anyone_but_root(
        system_queue: Path, base: Path) -> None:
    refused = member_cli("service", "--queue", str(system_queue))
    assert refused.returncode == 2
    assert f"sudo jobmagics service --queue {system_queue}" in refused.stderr
    refused = member_cli("install-service", "--queue", str(system_queue), "--unit-dir",
                         str(base / "units"))
    assert refused.returncode == 2
    assert f"sudo jobmagics install-service --queue {system_queue}" in refused.stderr
    assert not (base / "units").exists()


# ---- operators and the allowlist ------------------------------------------------------------
def test_admin_operators_adds_lists_and_removes_instrument_operators(system_queue: Path) -> None:
    assert jobmagics_cli("--queue", str(system_queue), "admin", "operators").stdout == "none\n"
    added = jobmagics_cli("--queue", str(system_queue), "admin", "operators", "add", OTHER_USER)
    assert added.returncode == 0, added.stderr
    assert jobmagics_cli("--queue", str(system_queue), "admin", "operators").stdout.split() == [
        OTHER_USER]
    jobmagics_cli("--queue", str(system_queue), "admin", "operators", "remove", OTHER_USER)
    assert jobmagics.Queue(system_queue).operators() == []


def test_allow_adds_lists_and_removes_experiment_classes(system_queue: Path) -> None:
    target = "jobmagics.experiments.builtin:Rabi"
    added = jobmagics_cli("--queue", str(system_queue), "allow", "add", target)
    assert added.returncode == 0, added.stderr
    assert jobmagics_cli("--queue", str(system_queue), "allow").stdout.split() == [target]
    jobmagics_cli("--queue", str(system_queue), "allow", "remove", target)
    assert jobmagics.Queue(system_queue).allowed_experiments() == []


def test_allow_and_operators_say_what_they_expect_after_a_wrong_word(system_queue: Path) -> None:
    wrong = jobmagics_cli("--queue", str(system_queue), "allow", "grant", "a:B")
    assert wrong.returncode == 2 and "say add or remove" in wrong.stderr
    bare = jobmagics_cli("--queue", str(system_queue), "admin", "operators", "add")
    assert bare.returncode == 2 and "add needs one or more USER" in bare.stderr


# ---- whose jobs a worker runs ---------------------------------------------------------------
def drain(queue: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``jobmagics worker --drain``: runs what it serves, then exits."""
    return jobmagics_cli("--queue", str(queue), "worker", "--drain", "--no-kernel",
                         "--slots", "1", *flags, timeout=120)


def test_a_worker_without_serve_group_runs_only_its_starters_jobs(group_queue: Path) -> None:
    theirs = submit_as_user(OTHER_USER, group_queue, command=["true"], cwd="/")
    mine = jobmagics.Queue(group_queue).submit(command=["true"], cwd="/")
    done = drain(group_queue)
    assert done.returncode == 0, done.stderr
    q = jobmagics.Queue(group_queue)
    assert q.get(mine.id).state.value == "completed"
    assert q.get(theirs).state.value == "pending"
    assert "will run as" not in done.stderr


def test_a_worker_with_serve_group_runs_members_jobs_and_says_so_once(group_queue: Path) -> None:
    theirs = submit_as_user(OTHER_USER, group_queue, command=["true"], cwd="/")
    done = drain(group_queue, "--serve-group")
    assert done.returncode == 0, done.stderr
    assert jobmagics.Queue(group_queue).get(theirs).state.value == "completed"
    notice = f"the jobs of every member of group {LAB_GROUP} on {group_queue} will run as root"
    assert done.stderr.count(notice) == 1, done.stderr


def test_a_members_worker_on_a_system_queue_is_refused(system_queue: Path) -> None:
    refused = member_cli("--queue", str(system_queue), "worker", "--drain", "--no-kernel")
    assert refused.returncode == 2
    assert f"{system_queue} is a system queue: only its service runs jobs" in refused.stderr


# ---- the service ----------------------------------------------------------------------------
def test_the_service_runs_a_members_job_and_removes_its_socket_on_sigterm(
        system_queue: Path, base: Path) -> None:
    log = open(base / "service.log", "wb")      # noqa: SIM115 - the service writes it until the end
    service = subprocess.Popen([sys.executable, "-m", "jobmagics", "service", "--queue",
                                str(system_queue), "--no-kernel", "--slots", "1"],
                               stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_for(lambda: (system_queue / "service.sock").exists(), 30)
        theirs = submit_as_user(OTHER_USER, system_queue, command=["id", "-un"], cwd="/")
        job = jobmagics.Queue(system_queue).get(theirs)
        assert job.wait(60).state.value == "completed", (base / "service.log").read_text()
        assert (system_queue / "logs" / f"{theirs}.log").read_text() == f"{OTHER_USER}\n"
    finally:
        service.send_signal(signal.SIGTERM)
        status = service.wait(60)
        log.close()
    assert status == 0, (base / "service.log").read_text()
    assert not os.path.exists(system_queue / "service.sock")
