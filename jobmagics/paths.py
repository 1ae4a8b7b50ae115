"""Where a queue lives and what its folder looks like (files only, no SQL)."""
from __future__ import annotations

import grp
import json
import os
import pwd
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import QueueError

SUBDIRS = ("logs", "data", "outputs", "configs", "results")
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph",
    "fuse.sshfs", "sshfs", "fuse.ceph", "fuse.glusterfs", "glusterfs", "afs", "9p",
})
SETTINGS_FILE = "queue.json"


def current_user() -> str:
    """The real Unix account (from the uid, not from ``$USER``, which anyone can set)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def current_host() -> str:
    return socket.gethostname()


def default_queue_dir() -> Path:
    return Path.home() / ".jobmagics" / "queue"


def resolve_queue_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``--queue DIR``, else ``$JOBMAGICS_QUEUE``, else ``~/.jobmagics/queue``."""
    chosen = path if path not in (None, "") else os.environ.get("JOBMAGICS_QUEUE") or default_queue_dir()
    if isinstance(chosen, str) and "\x00" in chosen:
        raise QueueError("the queue path must not contain NUL bytes")
    return Path(chosen).expanduser().absolute()


def is_personal_default(path: Path) -> bool:
    return path == default_queue_dir().absolute()


@dataclass(frozen=True)
class QueueLayout:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "jobs.db"

    def log(self, job_id: str) -> Path:
        return self.root / "logs" / f"{job_id}.log"

    def stderr(self, job_id: str) -> Path:
        return self.root / "logs" / f"{job_id}.stderr"

    def data(self, job_id: str) -> Path:
        return self.root / "data" / f"{job_id}.h5"

    def outputs(self, job_id: str) -> Path:
        return self.root / "outputs" / f"{job_id}.jsonl"

    def notebook(self, job_id: str) -> Path:
        return self.root / "outputs" / f"{job_id}.ipynb"

    def config(self, job_id: str) -> Path:
        return self.root / "configs" / f"{job_id}.json"

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE

    def read_settings(self) -> dict[str, object]:
        try:
            return json.loads(self.settings.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise QueueError(f"cannot read queue settings {self.settings}: {exc}") from None

    def is_shared(self) -> bool:
        """A shared queue is group-writable (made by ``jobmagics init --group``)."""
        try:
            return bool(self.root.stat().st_mode & stat.S_IWGRP)
        except OSError:
            return False


def ensure_layout(root: Path) -> QueueLayout:
    """Create the queue folder on first use; check it is usable; explain what to do if not."""
    layout = QueueLayout(root)
    try:
        exists = root.exists()
    except OSError as exc:          # a name too long, a component that is a file, ...
        raise QueueError(f"cannot use {root} as a queue folder: {exc.strerror}") from None
    if exists and not root.is_dir():
        raise QueueError(f"queue path {root} exists and is not a folder")
    if not exists:
        try:
            root.mkdir(parents=True, mode=0o700 if is_personal_default(root) else 0o755)
        except OSError as exc:
            raise QueueError(f"cannot create queue folder {root}: {exc.strerror}") from None
    if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
        raise QueueError(_not_writable_message(layout, root))
    shared = layout.is_shared()
    for name in SUBDIRS:
        sub = root / name
        if not sub.exists():
            try:
                sub.mkdir(mode=0o2770 if shared else 0o755)
                if shared:
                    os.chmod(sub, 0o2770)
            except OSError as exc:
                raise QueueError(f"cannot create {sub}: {exc.strerror}") from None
    check_writable(layout)
    return layout


def check_writable(layout: QueueLayout) -> None:
    """Fail early, naming the file, when the queue cannot be written by this user."""
    candidates = [layout.root, layout.db, Path(f"{layout.db}-wal"), Path(f"{layout.db}-shm"),
                  Path(f"{layout.db}-journal"), *(layout.root / s for s in SUBDIRS)]
    for path in candidates:
        if path.exists() and not os.access(path, os.W_OK):
            raise QueueError(_not_writable_message(layout, path))


def read_only_filesystem(path: Path) -> bool:
    """True if the filesystem holding ``path`` is mounted read-only (root cannot write it either)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _not_writable_message(layout: QueueLayout, path: Path) -> str:
    if read_only_filesystem(path):
        return (f"cannot write {path}: the filesystem holding it is mounted read-only; nothing was"
                " changed (remount it read-write, or use another queue with --queue DIR)")
    try:
        info = path.stat()
        owner = _name(pwd.getpwuid, info.st_uid)
        group = _name(grp.getgrgid, info.st_gid)
        detail = f"mode {stat.S_IMODE(info.st_mode):04o}, owner {owner}, group {group}"
    except OSError:
        detail = "cannot stat it"
    if layout.is_shared():
        fix = (f"ask an admin to run `jobmagics init {layout.root} --group {_name(grp.getgrgid, layout.root.stat().st_gid)}`"
               f" again, or to add {current_user()} to that group")
    else:
        fix = f"use a queue you own (--queue DIR), or have its owner run `jobmagics init {layout.root} --group GROUP`"
    return f"cannot write {path} as {current_user()} ({detail}): {fix}"


def _name(lookup, ident: int) -> str:  # type: ignore[no-untyped-def]
    try:
        return str(lookup(ident)[0])
    except KeyError:
        return str(ident)


def init_shared(root: Path, group: str | None) -> QueueLayout:
    """Prepare a queue several Unix users share: setgid 2770 folders, 0660 files."""
    gid = -1
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise QueueError(f"no Unix group {group!r} (create it with `groupadd {group}`)") from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        folders = [root, *(root / s for s in SUBDIRS)]
        for folder in folders:
            folder.mkdir(exist_ok=True)
            if gid != -1:
                os.chown(folder, -1, gid)
            os.chmod(folder, 0o2770 if gid != -1 else 0o755)
    except PermissionError as exc:
        raise QueueError(f"cannot prepare {root}: {exc.strerror} (run as the folder's owner or root)") from None
    return QueueLayout(root)


def fix_shared_file_modes(layout: QueueLayout) -> None:
    """Make every file of a shared queue group read/write (SQLite copies the db's mode)."""
    gid = layout.root.stat().st_gid
    for path in [layout.db, Path(f"{layout.db}-wal"), Path(f"{layout.db}-shm"), layout.settings]:
        if path.exists():
            os.chown(path, -1, gid)
            os.chmod(path, 0o660)


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path``, from the mount table ('' if unknown)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    target = os.path.realpath(path)
    best, best_type = "", ""
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def journal_mode_for(layout: QueueLayout) -> str:
    """WAL on local disks; the rollback journal on network filesystems or when configured."""
    configured = os.environ.get("JOBMAGICS_JOURNAL") or layout.read_settings().get("journal")
    if configured:
        mode = str(configured).lower()
        if mode not in ("wal", "delete", "truncate", "persist"):
            raise QueueError(f"journal mode {configured!r} must be wal or delete")
        return mode
    return "delete" if filesystem_type(layout.root) in NETWORK_FILESYSTEMS else "wal"
