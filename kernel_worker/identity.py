"""Who a job runs as: in a system queue served by root, every job runs as its owner.

A system queue's worker runs as root (the service's account). It starts each job's processes
as the account that submitted it (uid, primary group, supplementary groups, umask, and the
account's own ``HOME``/``USER``/``LOGNAME``), and gives that account the files it makes for the
job (log, outputs, data, config snapshot), group-owned by the queue's group. Everywhere else
(group and personal queues, or a worker that is not root) jobs run as the worker's account,
as they always did: ``identity_for`` then answers None.

Two ways to become the owner: ``popen_keywords()`` for ``subprocess.Popen`` (the child drops
privileges before it executes anything), and ``drop()`` in a forked child (the zygote's), which
must run before the child reads anything of the job."""
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobmagics.errors import InvalidJob, JobmagicsError
from jobmagics.paths import QueueLayout

SHARED_UMASK = 0o027        # the queue's group may read what a job makes, never write it
PRIVATE_UMASK = 0o077
SHARED_FILE_MODE = 0o640
PRIVATE_FILE_MODE = 0o600
# the worker's own, which mean nothing (or the wrong thing) to another account
WORKER_ONLY_VARIABLES = ("XDG_RUNTIME_DIR", "MAIL", "SUDO_USER", "SUDO_UID", "SUDO_GID",
                         "SUDO_COMMAND", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                         "JUPYTER_CONFIG_DIR", "IPYTHONDIR")


class NoAccount(InvalidJob):
    """Raised when a job's owner has no Unix account on the worker's machine."""


class CannotDrop(JobmagicsError):
    """Raised when a process could not become a job's owner, or could become root again."""


@dataclass(frozen=True)
class Identity:
    """A Unix account as a job runs as it, and how the worker's files for the job are given
    to it (``file_group``: the queue folder's group; ``umask``: the job's)."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    shell: str
    umask: int = PRIVATE_UMASK
    file_group: int = -1

    @classmethod
    def of(cls, user: str, *, umask: int = PRIVATE_UMASK, file_group: int = -1) -> Identity:
        """The account called ``user``; ``NoAccount`` when this machine has none."""
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise NoAccount(f"no Unix account {user} on this machine: its jobs cannot run"
                            " here") from None
        groups = tuple(sorted(set(os.getgrouplist(entry.pw_name, entry.pw_gid))))
        return cls(user=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups,
                   home=entry.pw_dir, shell=entry.pw_shell, umask=umask, file_group=file_group)

    @property
    def file_mode(self) -> int:
        """The mode of a file the worker makes for the job: group-readable where the queue
        shares its files with its group."""
        return SHARED_FILE_MODE if self.umask == SHARED_UMASK else PRIVATE_FILE_MODE

    # ---- starting processes as the owner ------------------------------------------------
    def popen_keywords(self) -> dict[str, Any]:
        """What ``subprocess.Popen`` needs to start the child as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups),
                "umask": self.umask}

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with the account's own HOME, USER and LOGNAME (never the worker's), without
        the worker's own folders (runtime, Jupyter's, IPython's)."""
        kept = {name: value for name, value in env.items() if name not in WORKER_ONLY_VARIABLES}
        return {**kept, "HOME": self.home, "USER": self.user, "LOGNAME": self.user}

    def drop(self) -> None:
        """Become this account in a forked child: groups, then gid, then uid (after the uid
        nothing else may change), then the umask; raises ``CannotDrop`` unless the change is
        complete and cannot be undone."""
        try:
            os.setgroups(list(self.groups))
            os.setresgid(self.gid, self.gid, self.gid)
            os.setresuid(self.uid, self.uid, self.uid)
        except OSError as exc:
            raise CannotDrop(f"cannot become {self.user}: {exc.strerror}") from None
        os.umask(self.umask)
        if os.getresuid() != (self.uid,) * 3 or os.getresgid() != (self.gid,) * 3:
            raise CannotDrop(f"still not {self.user} after dropping privileges")
        if self.uid != 0 and _can_become_root():
            raise CannotDrop(f"a process running as {self.user} could become root again")

    # ---- files the worker makes for the job ---------------------------------------------
    def own(self, path: os.PathLike[str] | str, mode: int | None = None) -> bool:
        """Give the file at ``path`` to this account (group: the queue's), mode ``mode``
        (default ``file_mode``). Never follows a symbolic link, and leaves alone a file that
        belongs to anyone but the worker or this account (someone put it there). True if done."""
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_uid not in (os.geteuid(), self.uid):
                return False
            os.fchown(descriptor, self.uid, self.file_group)
            os.fchmod(descriptor, self.file_mode if mode is None else mode)
            return True
        except OSError:
            return False
        finally:
            os.close(descriptor)

    def own_descriptor(self, descriptor: int) -> None:
        """Give an open file (the worker just made it) to this account."""
        with contextlib.suppress(OSError):
            os.fchown(descriptor, self.uid, self.file_group)
            os.fchmod(descriptor, self.file_mode)

    def to_json(self) -> dict[str, Any]:
        return {"user": self.user, "uid": self.uid, "gid": self.gid, "groups": list(self.groups),
                "home": self.home, "shell": self.shell, "umask": self.umask,
                "file_group": self.file_group}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Identity:
        return cls(user=str(data["user"]), uid=int(data["uid"]), gid=int(data["gid"]),
                   groups=tuple(int(g) for g in data["groups"]), home=str(data["home"]),
                   shell=str(data["shell"]), umask=int(data["umask"]),
                   file_group=int(data["file_group"]))


def _can_become_root() -> bool:
    try:
        os.setuid(0)
    except OSError:
        return False
    return True


# ---- when jobs run as their owners ---------------------------------------------------------
@dataclass(frozen=True)
class OwnerPolicy:
    """Whether this worker runs each job as its owner, and how the owners' files are shared.
    Read once per worker: a system queue served by root."""

    as_owners: bool = False
    share_files: bool = True
    file_group: int = -1

    @classmethod
    def of(cls, layout: QueueLayout) -> OwnerPolicy:
        if os.geteuid() != 0 or not layout.is_system():
            return cls()
        try:
            file_group = layout.root.stat().st_gid
        except OSError:
            file_group = -1
        return cls(as_owners=True, share_files=layout.share_files(), file_group=file_group)

    def identity_of(self, user: str) -> Identity | None:
        """The account a job of ``user`` runs as; None: the worker's own (not a system
        queue, or a worker that is not root). ``NoAccount`` when there is none."""
        if not self.as_owners:
            return None
        umask = SHARED_UMASK if self.share_files else PRIVATE_UMASK
        return Identity.of(user, umask=umask, file_group=self.file_group)


def remove_squatters(paths: list[Path], identity: Identity) -> list[Path]:
    """Remove what another account put at a job's file names in the queue's shared folders
    (data/, configs/ are sticky and group-writable: any member may create a file there first,
    or a link to somewhere else). A file of the owner or of the worker stays. Returns the paths
    removed."""
    removed = []
    for path in paths:
        try:
            info = path.lstat()
        except OSError:
            continue
        trusted = info.st_uid in (identity.uid, os.geteuid())
        if stat.S_ISREG(info.st_mode) and trusted:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
