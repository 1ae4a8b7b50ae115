"""Several real Unix accounts sharing one queue (made by ``jobmagics init --group``)."""
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

GROUP, MEMBERS, OUTSIDER = "jmlab", ("jmalice", "jmbob", "jmdave"), "jmcarol"


@pytest.fixture(scope="session")
def accounts() -> None:
    if os.getuid() != 0:
        pytest.skip("creating Unix accounts needs root (CI runs the suite as root)")
    if not _exists(grp.getgrnam, GROUP):
        subprocess.run(["groupadd", GROUP], check=True)
    for user in (*MEMBERS, OUTSIDER):
        if not _exists(pwd.getpwnam, user):
            subprocess.run(["useradd", "-M", "-s", "/bin/sh", user], check=True)
    for user in MEMBERS:
        subprocess.run(["usermod", "-a", "-G", GROUP, user], check=True)
    _let_everyone_reach(Path(os.path.realpath(sys.executable)))


def _let_everyone_reach(interpreter: Path) -> None:
    """The test accounts run this same interpreter; on CI it may live under /root (mode 0700).
    Grant traverse (x) only, on the folders on the way to it: nothing becomes readable."""
    for folder in interpreter.parents:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            os.chmod(folder, mode | 0o001)


def _exists(lookup, name: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        lookup(name)
        return True
    except KeyError:
        return False


@pytest.fixture
def shared_queue(accounts: None) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="jm-shared-", dir="/tmp"))
    os.chmod(base, 0o755)
    folder = base / "queue"
    result = subprocess.run([sys.executable, "-m", "jobmagics", "init", str(folder), "--group", GROUP,
                             "--admin", "jmbob"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    yield folder
    shutil.rmtree(base)


def as_user(user: str, code: str, queue: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", sys.executable, "-c", code, str(queue)],
                          capture_output=True, text=True, timeout=60, cwd="/tmp")


SUBMIT = "import jobmagics, sys; print(jobmagics.Queue(sys.argv[1]).submit(command=['true'], cwd='/tmp').id)"


def test_init_makes_a_setgid_group_folder_and_group_writable_files(shared_queue: Path) -> None:
    info = shared_queue.stat()
    assert oct(info.st_mode & 0o7777) == oct(0o2770)
    assert grp.getgrgid(info.st_gid).gr_name == GROUP
    assert (shared_queue / "jobs.db").stat().st_mode & 0o777 == 0o660


def test_group_members_submit_and_see_each_others_jobs_as_themselves(shared_queue: Path) -> None:
    alice = as_user("jmalice", SUBMIT, shared_queue)
    bob = as_user("jmbob", SUBMIT, shared_queue)
    assert alice.returncode == 0 and bob.returncode == 0, alice.stderr + bob.stderr
    listing = as_user("jmalice", "import jobmagics, sys; print(sorted(j.user for j in jobmagics.Queue(sys.argv[1]).queue()))",
                      shared_queue)
    assert listing.stdout.strip() == "['jmalice', 'jmbob']"


def test_the_user_comes_from_the_uid_not_from_the_environment(shared_queue: Path) -> None:
    result = subprocess.run(["runuser", "-u", "jmalice", "--", "env", "USER=jmbob", "LOGNAME=jmbob",
                             sys.executable, "-c", SUBMIT, str(shared_queue)], capture_output=True, text=True, cwd="/tmp")
    assert jobmagics.Queue(shared_queue).get(result.stdout.strip()).user == "jmalice"


@pytest.mark.parametrize("verb", ["cancel", "hold", "retry"])
def test_a_member_cannot_act_on_another_members_job(shared_queue: Path, verb: str) -> None:
    job_id = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    if verb == "retry":
        as_user("jmalice", f"import jobmagics, sys; jobmagics.Queue(sys.argv[1]).cancel('{job_id}')", shared_queue)
    before = jobmagics.Queue(shared_queue).get(job_id).record
    refused = subprocess.run(["runuser", "-u", "jmdave", "--", sys.executable, "-m", "jobmagics", "--queue",
                              str(shared_queue), verb, job_id], capture_output=True, text=True, cwd="/tmp")
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
    result = subprocess.run(["runuser", "-u", OUTSIDER, "--", sys.executable, "-m", "jobmagics", "--queue",
                             str(shared_queue), "queue"], capture_output=True, text=True, cwd="/tmp")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert str(shared_queue) in result.stderr and "jobmagics init" in result.stderr
