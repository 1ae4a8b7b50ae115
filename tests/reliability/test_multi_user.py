"""Scenario 7 under load: two real accounts submitting at once to a shared queue, in both kinds
(tests/test_permissions.py's ``shared_queue``): a group queue served by a worker a third member
started with --serve-group, and a system queue served by its service. The single-action cases
(who may cancel what, the outsider told why) live in tests/test_permissions.py; this adds
concurrency and the files' modes."""
from __future__ import annotations

import grp
import os
import signal
import stat
import subprocess
from pathlib import Path

import jobmagics
from tests.accounts import as_account
from tests.conftest import wait_for
from tests.reliability.invariants import check_invariants, figure, sized
from tests.test_permissions import GROUP, accounts, as_user, is_system, shared_queue  # noqa: F401 - fixtures

SUBMIT_MANY = ("import jobmagics, sys\nq = jobmagics.Queue(sys.argv[1])\n"
               "for i in range({n}):\n    print(q.submit(command=['true'], cwd='/tmp', name=f'{{i}}').id, flush=True)\n")
DENIED = ("import jobmagics, sys\nq = jobmagics.Queue(sys.argv[1])\ntry:\n    q.cancel('{job}')\n"
          "except jobmagics.PermissionDenied as e:\n    print('denied')\n")


def start_worker_as(user: str, queue: Path) -> subprocess.Popen[bytes] | None:
    """A group queue's worker, run by ``user`` for every member (without --serve-group a worker
    serves only its starter's jobs, on purpose). A system queue's jobs are run by its service,
    already running (paused until now): no member may start a worker there, on purpose."""
    if is_system(queue):
        jobmagics.Queue(queue).resume()
        return None
    return subprocess.Popen(as_account(user, "-m", "kernel_worker", "--queue", str(queue), "--slots", "2", "--no-kernel",
                                       "--serve-group"),
                            cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_worker(worker: subprocess.Popen[bytes] | None, q: jobmagics.Queue) -> None:
    """The member's worker stops; a system queue's service is the fixture's to stop."""
    if worker is None:
        return
    for w in q.workers(alive_only=True):
        os.kill(w["pid"], signal.SIGTERM)
    worker.wait(60)


def submit_as(user: str, queue: Path, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(as_account(user, "-c", SUBMIT_MANY.format(n=n), str(queue)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/tmp")


def assert_group_shared(queue: Path) -> None:
    gid = grp.getgrnam(GROUP).gr_gid
    for path in [queue, *queue.rglob("*")]:
        info = path.stat()
        assert info.st_gid == gid, f"{path} belongs to group {info.st_gid}, not {GROUP}"
        assert info.st_mode & stat.S_IRGRP and info.st_mode & stat.S_IWGRP, f"{path} is {oct(info.st_mode)}"


def assert_only_the_service_writes(queue: Path) -> None:
    """A system queue, on purpose unlike a group queue: the database is root's alone (0600),
    and no member may write any file or folder but the sticky data/ and configs/ folders
    (where each writes only its own files) and the service's socket (where it asks)."""
    gid = grp.getgrnam(GROUP).gr_gid
    for path in [queue, *queue.rglob("*")]:
        info = path.stat()
        if path.name.startswith("jobs.db"):
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600), f"{path} is {oct(info.st_mode)}"
            continue
        assert not info.st_mode & stat.S_IWOTH, f"{path} is {oct(info.st_mode)}"
        if stat.S_ISSOCK(info.st_mode):
            assert path.name == "service.sock" and info.st_gid == gid, path
        elif path.is_dir() and path.name in ("data", "configs") and path.parent == queue:
            assert info.st_mode & stat.S_ISVTX, f"{path} is {oct(info.st_mode)}: not sticky"
        elif info.st_gid == gid:
            assert not info.st_mode & stat.S_IWGRP, f"{path} is {oct(info.st_mode)}: the group may write it"


def test_two_accounts_submitting_at_once_to_a_shared_queue_lose_nothing_and_lock_nobody_out(shared_queue: Path) -> None:  # noqa: F811
    n = sized(100, 500)
    q = jobmagics.Queue(shared_queue)
    worker = start_worker_as("jmdave", shared_queue)
    try:
        wait_for(lambda: q.workers(), 30)
        submitters = {user: submit_as(user, shared_queue, n) for user in ("jmalice", "jmbob")}
        ids: dict[str, list[str]] = {}
        for user, proc in submitters.items():
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            ids[user] = out.split()
        wait_for(lambda: q.count(state=["pending", "running"]) == 0, 300, 0.2)
    finally:
        stop_worker(worker, q)
    everything = ids["jmalice"] + ids["jmbob"]
    verdict = check_invariants(q, everything, slots=2)
    assert verdict.states == {"completed": 2 * n}
    assert {q.get(i).user for i in ids["jmalice"]} == {"jmalice"} and {q.get(i).user for i in ids["jmbob"]} == {"jmbob"}
    if is_system(shared_queue):
        assert_only_the_service_writes(shared_queue)
    else:
        assert_group_shared(shared_queue)
    for user in ("jmalice", "jmbob", "jmdave"):            # nobody was locked out by another's files
        seen = as_user(user, "import jobmagics, sys; print(jobmagics.Queue(sys.argv[1]).count())", shared_queue)
        assert seen.stdout.strip() == str(2 * n), seen.stderr
    late = as_user("jmalice", "import jobmagics, sys; print(jobmagics.Queue(sys.argv[1]).submit(command=['sleep', '60'], cwd='/tmp', hold=True).id)",
                   shared_queue).stdout.strip()
    assert as_user("jmdave", DENIED.format(job=late), shared_queue).stdout.strip() == "denied"
    assert q.get(late).state == "waiting"
    served = "a system queue's service" if is_system(shared_queue) else "a worker run by a third"
    figure(f"multi-user: jobs from two accounts on {served}", f"{2 * n}, all completed")
