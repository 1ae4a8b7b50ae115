"""Several real Unix accounts sharing one queue, in both kinds of shared queue: a group queue
(``jobmagics init --group``: members write the folder) and a system queue (``jobmagics init
--system``: only its service writes; members go through its socket). Each test runs in both;
where the mode changes the outcome on purpose, the test says so."""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmagics
from jobmagics.paths import QueueLayout
from tests.accounts import PACKAGES_UNDER_TEST, account_python, as_account, build_runtime
from tests.service.running import ServiceProcess, make_system_queue

GROUP, MEMBERS, OUTSIDER = "jmlab", ("jmalice", "jmbob", "jmdave"), "jmcarol"


def _modes_on_the_way(*paths: Path) -> dict[Path, int]:
    return {folder: folder.stat().st_mode for path in paths for folder in path.parents}


# before any fixture ran: the accounts must not open the folders leading to the suite's files
MODES_AT_START = _modes_on_the_way(Path(os.path.realpath(sys.executable)), Path(jobmagics.__file__).resolve())


@pytest.fixture(scope="session")
def accounts() -> None:
    """The accounts, and the interpreter they run the code under test with (tests/accounts.py)."""
    if os.getuid() != 0:
        pytest.fail("creating Unix accounts needs root: run the suite as root (CI does)", pytrace=False)
    if not _exists(grp.getgrnam, GROUP):
        subprocess.run(["groupadd", GROUP], check=True)
    for user in (*MEMBERS, OUTSIDER):
        if not _exists(pwd.getpwnam, user):
            subprocess.run(["useradd", "-M", "-s", "/bin/sh", user], check=True)
    for user in MEMBERS:
        subprocess.run(["usermod", "-a", "-G", GROUP, user], check=True)
    account_python()


def _exists(lookup, name: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        lookup(name)
        return True
    except KeyError:
        return False


@pytest.fixture(params=["group", "system"])
def shared_queue(accounts: None, request: pytest.FixtureRequest) -> Iterator[Path]:
    """The lab's queue, jmbob its admin: a group queue (no worker runs), or a system queue with
    its service running as root. The service is also the worker of everyone's jobs (2 slots):
    it starts paused, so that jobs stay pending as in a group queue without a worker; a test
    that wants them run resumes it."""
    base = Path(tempfile.mkdtemp(prefix="jm-shared-", dir="/tmp"))
    os.chmod(base, 0o755)
    folder = base / "queue"
    if request.param == "group":
        result = subprocess.run([sys.executable, "-m", "jobmagics", "init", str(folder), "--group", GROUP,
                                 "--admin", "jmbob"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        yield folder
    else:
        jobmagics.Queue(make_system_queue(folder, GROUP, ["jmbob"])).pause()
        service = ServiceProcess(folder, base / "service.log", resources=()).start()
        yield folder
        service.stop()
        print(f"---- the service's log ----\n{service.output()}")      # shown when the test failed
    shutil.rmtree(base)


def is_system(queue: Path) -> bool:
    return QueueLayout(queue).is_system()


def as_user(user: str, code: str, queue: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(as_account(user, "-c", code, str(queue)), capture_output=True, text=True, timeout=60,
                          cwd="/tmp", check=False)


SUBMIT = "import jobmagics, sys; print(jobmagics.Queue(sys.argv[1]).submit(command=['true'], cwd='/tmp').id)"


def test_init_gives_the_group_the_folder_and_the_database_as_the_mode_says(shared_queue: Path) -> None:
    info, db = shared_queue.stat(), (shared_queue / "jobs.db").stat()
    assert grp.getgrgid(info.st_gid).gr_name == GROUP
    if is_system(shared_queue):
        # on purpose: members read the folder and reach the socket; root's service alone
        # writes, and the database is root's 0600 (members cannot even open it)
        assert oct(info.st_mode & 0o7777) == oct(0o750) and info.st_uid == 0
        assert (db.st_uid, db.st_mode & 0o777) == (0, 0o600)
    else:
        assert oct(info.st_mode & 0o7777) == oct(0o2770)
        assert db.st_mode & 0o777 == 0o660


def test_group_members_submit_and_see_each_others_jobs_as_themselves(shared_queue: Path) -> None:
    alice = as_user("jmalice", SUBMIT, shared_queue)
    bob = as_user("jmbob", SUBMIT, shared_queue)
    assert alice.returncode == 0 and bob.returncode == 0, alice.stderr + bob.stderr
    listing = as_user("jmalice", "import jobmagics, sys; print(sorted(j.user for j in jobmagics.Queue(sys.argv[1]).queue()))",
                      shared_queue)
    assert listing.stdout.strip() == "['jmalice', 'jmbob']"


def test_the_user_comes_from_the_uid_not_from_the_environment(shared_queue: Path) -> None:
    result = subprocess.run(as_account("jmalice", "-c", SUBMIT, str(shared_queue), env={"USER": "jmbob", "LOGNAME": "jmbob"}),
                            capture_output=True, text=True, cwd="/tmp", check=False)
    assert jobmagics.Queue(shared_queue).get(result.stdout.strip()).user == "jmalice"


@pytest.mark.parametrize("verb", ["cancel", "hold", "retry"])
def test_a_member_cannot_act_on_another_members_job(shared_queue: Path, verb: str) -> None:
    job_id = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    if verb == "retry":
        as_user("jmalice", f"import jobmagics, sys; jobmagics.Queue(sys.argv[1]).cancel('{job_id}')", shared_queue)
    before = jobmagics.Queue(shared_queue).get(job_id).record
    refused = subprocess.run(as_account("jmdave", "-m", "jobmagics", "--queue", str(shared_queue), verb, job_id),
                             capture_output=True, text=True, cwd="/tmp", check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert f"jmdave may not {verb}" in refused.stderr and "belongs to jmalice" in refused.stderr
    after = jobmagics.Queue(shared_queue).get(job_id).record
    assert (after.state, after.held, after.attempt) == (before.state, before.held, before.attempt)
    in_python = as_user("jmdave", f"import jobmagics, sys\ntry:\n    jobmagics.Queue(sys.argv[1]).{verb}('{job_id}')\n"
                                  "except jobmagics.PermissionDenied:\n    print('denied')", shared_queue)
    assert in_python.stdout.strip() == "denied", in_python.stderr


def test_a_queue_admin_may_act_on_anyones_job(shared_queue: Path) -> None:
    job_id = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    result = as_user("jmbob", f"import jobmagics, sys; q = jobmagics.Queue(sys.argv[1]); q.hold('{job_id}'); q.cancel('{job_id}')",
                     shared_queue)
    assert result.returncode == 0, result.stderr
    assert jobmagics.Queue(shared_queue).get(job_id).state == "cancelled"


def test_the_owner_may_act_on_their_own_job(shared_queue: Path) -> None:
    job_id = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    result = as_user("jmalice", f"import jobmagics, sys; jobmagics.Queue(sys.argv[1]).cancel('{job_id}')", shared_queue)
    assert result.returncode == 0, result.stderr


def test_an_account_outside_the_group_is_told_which_file_and_what_to_run(shared_queue: Path) -> None:
    result = subprocess.run(as_account(OUTSIDER, "-m", "jobmagics", "--queue", str(shared_queue), "queue"),
                            capture_output=True, text=True, cwd="/tmp", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert str(shared_queue) in result.stderr
    if is_system(shared_queue):
        # on purpose: an outsider cannot enter a system queue's folder; the way in is the group
        assert GROUP in result.stderr
    else:
        assert "jobmagics init" in result.stderr


def test_accounts_reach_the_code_under_test_without_opening_any_folder_on_the_way(accounts: None) -> None:
    assert _modes_on_the_way(Path(os.path.realpath(sys.executable)), Path(jobmagics.__file__).resolve()) == MODES_AT_START


def test_another_account_runs_the_code_of_a_checkout_in_a_folder_it_cannot_enter(shared_queue: Path) -> None:
    private = Path(tempfile.mkdtemp(prefix="jm-private-checkout-"))          # 0700, like a clone in /root
    runtime = Path(tempfile.mkdtemp(prefix="jm-accounts-runtime-", dir="/tmp"))
    try:
        for name in PACKAGES_UNDER_TEST:
            shutil.copytree(Path(jobmagics.__file__).parents[1] / name, private / name)
        (private / "jobmagics" / "private_mark.py").write_text("MARK = 'from the private checkout'\n")
        for path in private.rglob("*"):                                      # as cloned under umask 077
            path.chmod(0o700 if path.is_dir() else 0o600)
        reach = ["runuser", "-u", "jmalice", "--", "test", "-r", str(private / "jobmagics" / "private_mark.py")]
        assert subprocess.run(reach, check=False).returncode != 0, "the checkout must be out of the account's reach"
        python = build_runtime(runtime, [private / name for name in PACKAGES_UNDER_TEST])
        code = ("import sys, jobmagics, jobmagics.private_mark as m\n"
                "print(m.MARK, jobmagics.Queue(sys.argv[1]).submit(command=['true'], cwd='/tmp').id, sep=',')")
        ran = subprocess.run(["runuser", "-u", "jmalice", "--", str(python), "-c", code, str(shared_queue)],
                             capture_output=True, text=True, timeout=60, cwd="/tmp", check=False)
        assert ran.returncode == 0, ran.stderr
        mark, job_id = ran.stdout.strip().split(",")
        assert mark == "from the private checkout"
        assert jobmagics.Queue(shared_queue).get(job_id).user == "jmalice"
    finally:
        shutil.rmtree(private)
        shutil.rmtree(runtime)
