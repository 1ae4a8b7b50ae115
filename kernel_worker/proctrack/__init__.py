"""An attempt's process container: every process one attempt of a job started, wherever it
reparented, found and ended together.

A job's processes cannot be found from the job's own process alone: a child that calls
``setsid`` and forks again (a daemon) leaves its process group and is adopted by init, and a
kernel that served the job may be gone before anyone looks. So each attempt gets a container
that its processes cannot leave. The backend is chosen once per process; ``$JOBMAGICS_PROCTRACK``
forces one (``auto``, the default, takes the first of these that works here):

- ``cgroup1``: one cgroup per attempt in the v1 ``freezer`` hierarchy, ended by freezing it,
  killing every member and thawing (what SLURM's proctrack/cgroup does); on hosts that still
  mount it (a v1/v2 hybrid), because a process joins it without waiting on the kernel;
- ``cgroup2``: the same in the v2 hierarchy, ended with ``cgroup.kill`` (Linux 5.14+), else by
  freezing, killing and thawing;
- ``marks``: where the worker may not create cgroups (it is not root): the attempt's process
  group plus every process whose environment carries the attempt's marks (``$JOBMAGICS_JOB_ID``
  and ``$JOBMAGICS_ATTEMPT``, inherited by everything the job starts). A process that clears its
  environment and leaves the group escapes this one.

Containers are named ``jobmagics/<queue key>/<job id>.<attempt>`` at the hierarchy's root (the
key hashes the queue's real path), so any worker of the queue on this host finds a dead
worker's containers from the job row alone. ``jobmagics/<queue key>/worker.<worker id>`` is a
worker's home: its kernels and zygote, whose own children are no job's. A container is removed
when its attempt ends, after killing whatever is left in it (as SLURM does: a job's processes
end with it); ``supervision.sweep_containers`` ends the ones dead workers left.

A new process joins its container itself before it runs any of the job: a command starts as
``/bin/sh -c 'echo 0 >"$0"; exec "$@"' CONTAINER/cgroup.procs ARGV...`` (same pid, fds and
environment; about half a millisecond of CPU in the job, none in the worker), a child of the
zygote writes to ``cgroup.procs`` right after the fork. Moving a process from outside would make
the worker wait on a lock that every fork and exit on the machine takes, and moving the worker
itself into the container around ``Popen`` would take the worker's other threads along."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import signal
import time
from collections.abc import Iterator

from jobmagics.liveness import same_process

from .base import KILL_WAIT_S, Container
from .cgroups import TOP, CgroupContainer, Hierarchy, hierarchies, usable
from .marks import MarksContainer, kill_marked, marked_processes

__all__ = ["BACKEND_VAR", "KILL_WAIT_S", "TOP", "Container", "Tracker", "available_backends",
           "choose_backend", "tracker_for"]
log = logging.getLogger("kernel_worker")
BACKEND_VAR = "JOBMAGICS_PROCTRACK"
# best first: where both exist (a hybrid host), the v1 freezer's joins skip the kernel's global
# migration lock (see CgroupContainer.join_file); v2 is the one of modern hosts
BACKENDS = ("cgroup1", "cgroup2", "marks")
STALE_AFTER_S = 60.0        # an empty container of another queue older than this is a leftover
RECOVERY_WAIT_S = 1.0       # a lost attempt's processes get this long to die per pass (retried)


# ---- naming -----------------------------------------------------------------------------
def queue_key(queue_root: str | os.PathLike[str]) -> str:
    return hashlib.sha1(os.path.realpath(queue_root).encode()).hexdigest()[:12]


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)


def attempt_name(job_id: str, attempt: int) -> str:
    return f"{_safe(job_id)}.{attempt}"


def home_name(worker_id: str) -> str:
    return "worker." + _safe(worker_id)


def home_pid(name: str) -> int | None:
    """The worker pid in a home's name (``worker.<host>_<pid>_<token>``)."""
    parts = name.rsplit("_", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def worker_home_alive(home: str) -> bool:
    """Is the worker whose home this is still running (its pid is in the name)?"""
    pid = home_pid(home)
    return pid is not None and same_process(pid, None)


_available: list[str] = []


def available_backends() -> list[str]:
    """The backends that work here, best first (probed once per process)."""
    if not _available:
        fit = [name for name, h in hierarchies().items() if usable(h)]
        _available.extend(name for name in BACKENDS if name in fit or name == "marks")
    return list(_available)


_chosen: dict[str, str] = {}


def choose_backend() -> str:
    """``$JOBMAGICS_PROCTRACK`` if it names a backend that works here, else the best that does."""
    wanted = os.environ.get(BACKEND_VAR, "auto").strip().lower() or "auto"
    if wanted not in _chosen:
        available = available_backends()
        if wanted != "auto" and wanted not in available:
            log.warning("%s=%s is not available here; using %s", BACKEND_VAR, wanted, available[0])
        _chosen[wanted] = wanted if wanted in available else available[0]
    return _chosen[wanted]


# ---- one queue's containers on this host --------------------------------------------------
class Tracker:
    """Makes and finds the containers of one queue's attempts on this host."""

    def __init__(self, queue_root: str | os.PathLike[str], backend: str | None = None) -> None:
        self.root = os.path.realpath(queue_root)
        self.key = queue_key(queue_root)
        self.backend = backend or choose_backend()
        self.hierarchy = hierarchies().get(self.backend)
        self._base = "" if self.hierarchy is None else str(self.hierarchy.top / self.key)

    def describe(self) -> str:
        if self.hierarchy is None:
            return f"{self.backend} (process groups and the attempt's marks in the environment)"
        return f"{self.backend} ({self.hierarchy.top / self.key})"

    def attempt(self, job_id: str, attempt: int) -> Container:
        return self._container(attempt_name(job_id, attempt), job_id, attempt)

    def home(self, worker_id: str) -> Container:
        return self._container(home_name(worker_id), None, None)

    def _container(self, name: str, job_id: str | None, attempt: int | None) -> Container:
        if self.hierarchy is None:
            return MarksContainer(name, self.root, job_id, attempt)
        return CgroupContainer(self.hierarchy, f"{self._base}/{name}")

    def _everywhere(self, name: str) -> Iterator[CgroupContainer]:
        """The container of that name in every hierarchy here (whichever backend made it)."""
        for hierarchy in hierarchies().values():
            path = hierarchy.top / self.key / name
            if path.is_dir():
                yield CgroupContainer(hierarchy, str(path))

    def end_lost_attempt(self, job_id: str, attempt: int, pid: int | None,
                         pid_started: float | None) -> bool:
        """End a dead worker's attempt by every means; True once none of its processes is left."""
        gone = self.end(attempt_name(job_id, attempt))
        if pid is not None and same_process(pid, pid_started):  # its leader (or kernel) and group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        marked = kill_marked(lambda: marked_processes(self.root, job_id, attempt), RECOVERY_WAIT_S)
        return marked and gone

    def end_home(self, worker_id: str) -> bool:
        """A dead worker's kernels, zygote and what they started."""
        return self.end(home_name(worker_id))

    def names(self) -> list[str]:
        """This queue's containers here, in every hierarchy (whichever backend made them)."""
        found: set[str] = set()
        for hierarchy in hierarchies().values():
            with contextlib.suppress(FileNotFoundError):
                found.update(e.name for e in os.scandir(hierarchy.top / self.key) if e.is_dir())
        return sorted(found)

    def end(self, name: str) -> bool:
        """End and remove the container of that name, in every hierarchy; True if none is left."""
        left = [c.name for c in self._everywhere(name)
                if not c.release(stopped=True, timeout=RECOVERY_WAIT_S)]
        return not left

    def remove_stale_elsewhere(self) -> None:
        """Other queues' leftovers here: homes of workers that are gone (ended), containers
        empty for a while, then the queue folders left empty. Another process's probe is
        left alone while that process lives. (Only a worker that may use cgroups tries.)"""
        if self.hierarchy is None:
            return
        for hierarchy in hierarchies().values():
            with contextlib.suppress(FileNotFoundError):
                for queue_dir in os.scandir(hierarchy.top):
                    prober = queue_dir.name.removeprefix("probe.")
                    probing = prober.isdigit() and same_process(int(prober), None)
                    if queue_dir.is_dir() and queue_dir.name != self.key and not probing:
                        _remove_stale_in(hierarchy, queue_dir.path)

    def leave(self, worker_id: str) -> None:
        """The worker stops: end what is left in its home, remove it and, if no other worker
        of the queue here uses it, the queue's folder."""
        self.home(worker_id).release(stopped=True)
        if self.hierarchy is not None:
            with contextlib.suppress(OSError):
                (self.hierarchy.top / self.key).rmdir()


def _remove_stale_in(hierarchy: Hierarchy, queue_dir: str) -> None:
    now = time.time()
    for entry in os.scandir(queue_dir):
        home = entry.name.startswith("worker.")
        if entry.is_dir() and home and not worker_home_alive(entry.name):
            CgroupContainer(hierarchy, entry.path).release(stopped=True, timeout=RECOVERY_WAIT_S)
        elif entry.is_dir() and now - entry.stat().st_mtime > STALE_AFTER_S:
            with contextlib.suppress(OSError):     # populated: busy, left alone
                os.rmdir(entry.path)
    with contextlib.suppress(OSError):             # a worker of that queue re-creates it on use
        os.rmdir(queue_dir)


_trackers: dict[str, Tracker] = {}


def tracker_for(queue_root: str | os.PathLike[str]) -> Tracker:
    """The one tracker of this process for a queue (the executors and supervision share it)."""
    key = f"{queue_root}\0{os.environ.get(BACKEND_VAR, 'auto')}"
    tracker = _trackers.get(key)
    if tracker is None:
        tracker = _trackers[key] = Tracker(queue_root)
        log.info("process tracking: %s", tracker.describe())
    return tracker
