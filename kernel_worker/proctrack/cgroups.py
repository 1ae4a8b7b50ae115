"""Containers as cgroups: v2 (``cgroup.kill``, else freeze and kill) or the v1 freezer."""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .base import KILL_WAIT_S, wait_until

log = logging.getLogger("kernel_worker")
TOP = "jobmagics"
# run by /bin/sh: join the container ($0 names the file to write to), then become the job (exec)
JOIN_SCRIPT = 'echo 0 >"$0" 2>/dev/null; exec "$@"'
# the same through a descriptor the worker opened ($0 is its number), closed before the job runs:
# the kernel checks the rights of whoever OPENED the file, so a job that already dropped to its
# owner's account joins too; left open, it would let the job move any process into its cgroup.
# bash, because dash takes only one-digit descriptors in a redirection.
JOIN_BY_DESCRIPTOR_SCRIPT = 'echo 0 >&"$0" 2>/dev/null; eval "exec $0>&-"; exec "$@"'
JOIN_BY_DESCRIPTOR_SHELL = "/bin/bash"


@dataclass(frozen=True)
class Hierarchy:
    """A mounted cgroup hierarchy and this process's own cgroup in it."""

    kind: str               # "cgroup2" | "cgroup1" (the v1 freezer)
    mount: Path
    own: Path

    @property
    def top(self) -> Path:
        return self.mount / TOP


_found: dict[str, Hierarchy] | None = None


def hierarchies() -> dict[str, Hierarchy]:
    """The cgroup v2 hierarchy and the v1 freezer, where mounted (read once: the worker's own
    cgroup is where it started, not where a job's start took it for a moment)."""
    global _found
    if _found is None:
        _found = _mounted()
    return _found


def _mounted() -> dict[str, Hierarchy]:
    found: dict[str, Hierarchy] = {}
    own = _own_cgroups()
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) < 4:
                continue
            mount, fstype, options = Path(fields[1]), fields[2], fields[3].split(",")
            if fstype == "cgroup2" and "cgroup2" not in found and "" in own:
                found["cgroup2"] = Hierarchy("cgroup2", mount, mount / own[""].lstrip("/"))
            elif fstype == "cgroup" and "freezer" in options and "freezer" in own:
                found["cgroup1"] = Hierarchy("cgroup1", mount, mount / own["freezer"].lstrip("/"))
    return found


def _own_cgroups() -> dict[str, str]:
    """Controller -> path from /proc/self/cgroup ("" for the v2 hierarchy)."""
    own: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path
    return own


def usable(hierarchy: Hierarchy) -> bool:
    """Can this process make containers there, and does a process started through ``command``
    really join one (a user may create cgroups yet not move processes between them)?"""
    probe = hierarchy.top / f"probe.{os.getpid()}"
    try:
        hierarchy.top.mkdir(exist_ok=True)
        probe.mkdir(exist_ok=True)
    except OSError:
        return False
    try:
        can_end = hierarchy.kind == "cgroup1" or any((probe / f).exists()
                                                     for f in ("cgroup.kill", "cgroup.freeze"))
        show = CgroupContainer(hierarchy, str(probe)).command(["cat", "/proc/self/cgroup"])
        shown = subprocess.run(show, capture_output=True, text=True, timeout=30,
                               check=False).stdout
        return can_end and _member(shown, hierarchy, "/" + str(probe.relative_to(hierarchy.mount)))
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def _member(proc_cgroup: str, hierarchy: Hierarchy, path: str) -> bool:
    """Does a /proc/PID/cgroup text put the process at ``path`` of that hierarchy?"""
    controller = "" if hierarchy.kind == "cgroup2" else "freezer"  # "0::/path", "6:freezer:/path"
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[2] == path and controller in parts[1].split(","):
            return True
    return False


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _write_file(path: str | Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


class CgroupContainer:
    """A cgroup (v2, or the v1 freezer) holding one attempt's processes."""

    def __init__(self, hierarchy: Hierarchy, path: str) -> None:
        self.hierarchy = hierarchy
        self.path = path                    # a str: containers are made once per job started
        self.name = os.path.basename(path)
        # A process joins by writing 0. To v1's ``tasks`` that moves the writing thread alone
        # (all there is of a process about to exec, or just forked from the single-threaded
        # zygote), which skips the kernel's global lock on moving thread groups: no wait for an
        # RCU grace period (about 10 ms here after a quiet spell). v2 moves thread groups only.
        self.join_file = f"{path}/cgroup.procs" if hierarchy.kind == "cgroup2" else f"{path}/tasks"

    def _write(self, file: str, text: str, *, create: bool = True) -> None:
        try:
            _write_file(f"{self.path}/{file}", text.encode())
        except FileNotFoundError:
            if not create or not self._made():    # created on first use (or swept meanwhile)
                raise
            _write_file(f"{self.path}/{file}", text.encode())

    def _made(self) -> bool:
        for _ in range(3):          # another worker may remove an empty queue folder meanwhile
            try:
                os.mkdir(self.path)
                return True
            except FileExistsError:
                return True
            except FileNotFoundError:
                with contextlib.suppress(FileNotFoundError):
                    os.makedirs(self.path, exist_ok=True)
                    return True
            except OSError as exc:          # the job runs on, found by its marks and group
                log.warning("cannot create %s: %s", self.path, exc)
                return False
        return False

    def command(self, argv: list[str]) -> list[str]:
        if not self._made():
            return argv
        return ["/bin/sh", "-c", JOIN_SCRIPT, self.join_file, *argv]

    def command_for_owner(self, argv: list[str]) -> tuple[list[str], int | None]:
        if not self._made() or not os.access(JOIN_BY_DESCRIPTOR_SHELL, os.X_OK):
            return argv, None          # found by its marks and process group instead
        try:
            descriptor = os.open(self.join_file, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:             # the job runs on, found by its marks and group
            log.warning("cannot open %s: %s", self.join_file, exc)
            return argv, None
        script = [JOIN_BY_DESCRIPTOR_SHELL, "-c", JOIN_BY_DESCRIPTOR_SCRIPT, str(descriptor)]
        return [*script, *argv], descriptor

    def join_path(self) -> str | None:
        return self.join_file if self._made() else None

    def started(self, pid: int) -> None:
        pass

    def add(self, pid: int, *, own_group: bool = True) -> None:
        try:
            self._write("cgroup.procs", str(pid))
        except ProcessLookupError:
            pass
        except OSError as exc:      # the job runs on, found by its marks and group as a fallback
            log.warning("cannot move process %d into %s: %s", pid, self.path, exc)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in _read(f"{self.path}/cgroup.procs").split()]
        except (FileNotFoundError, ValueError):
            return []

    def signal(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def populated(self) -> bool:
        if self.hierarchy.kind == "cgroup2":
            try:
                return "populated 1" in _read(f"{self.path}/cgroup.events")
            except FileNotFoundError:
                return False
        return bool(self.pids())

    def kill(self, timeout: float = KILL_WAIT_S) -> bool:
        if not os.path.exists(self.path):
            return True
        deadline = time.monotonic() + timeout
        try:
            if self.hierarchy.kind == "cgroup2" and os.path.exists(f"{self.path}/cgroup.kill"):
                self._write("cgroup.kill", "1", create=False)
            else:
                self._freeze_and_kill(deadline)
        except FileNotFoundError:
            return True
        except OSError as exc:              # e.g. another user's container: say so, do not wait
            log.warning("cannot end the processes in %s: %s", self.path, exc)
            return False
        return wait_until(lambda: not self.populated(), deadline)

    def _freeze_and_kill(self, deadline: float) -> None:
        """Without ``cgroup.kill``: a frozen group cannot fork, so one pass kills all of it."""
        v2 = self.hierarchy.kind == "cgroup2"
        file, frozen, thawed = (("cgroup.freeze", "1", "0") if v2
                                else ("freezer.state", "FROZEN", "THAWED"))
        while self.populated() and time.monotonic() < deadline:
            try:
                self._write(file, frozen, create=False)
                try:
                    wait_until(self._frozen, min(deadline, time.monotonic() + 1.0))
                    self.signal(signal.SIGKILL)
                finally:                    # never leave a group frozen: killed ones die on thaw
                    self._write(file, thawed, create=False)
            except FileNotFoundError:
                return
            wait_until(lambda: not self.populated(), min(deadline, time.monotonic() + 0.2))

    def _frozen(self) -> bool:
        try:
            if self.hierarchy.kind == "cgroup2":
                return "frozen 1" in _read(f"{self.path}/cgroup.events")
            return _read(f"{self.path}/freezer.state").strip() == "FROZEN"
        except FileNotFoundError:
            return True

    def release(self, *, stopped: bool = False, timeout: float = KILL_WAIT_S) -> bool:
        try:
            os.rmdir(self.path)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                log.warning("cannot remove %s: %s", self.path, exc)
                return False
        gone = self.kill(timeout)
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.path)
        if not gone:
            log.warning("processes of %s would not die: %s", self.name, self.pids())
        return gone
