"""Where a queue lives and what its folder looks like (files only, no SQL)."""
from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import re
import socket
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import QueueError

SUBDIRS = ("logs", "data", "outputs", "configs", "results")
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph",
    "fuse.sshfs", "sshfs", "fuse.ceph", "fuse.glusterfs", "glusterfs", "afs", "9p",
})
SETTINGS_FILE = "queue.json"
SOCKET_FILE = "service.sock"
MARKER_FILE = ".jobmagics-queue"
VERDICT_FILE = ".jobs.db-verdict"
RESERVE_FILE = ".space-reserve"
FULL_BELOW = 64 << 10          # bytes: less free space than this is a full disk
JOB_FILE_RE = re.compile(r"^(JOB-\d{8}-\d{5,}(?:_\d+)?)(?:\.|$)")     # a job's or an element's


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
    chosen: str | os.PathLike[str]
    if path is None or path == "":
        chosen = os.environ.get("JOBMAGICS_QUEUE") or default_queue_dir()
    else:
        chosen = path
    if isinstance(chosen, str) and "\x00" in chosen:
        raise QueueError("the queue path must not contain NUL bytes")
    return Path(chosen).expanduser().absolute()


def is_personal_default(path: Path) -> bool:
    return path == default_queue_dir().absolute()


# a job's files listings name: kind -> (folder in the queue, suffix after the job id)
JOB_FILES = {"log": ("logs", ".log"), "data": ("data", ".h5"), "outputs": ("outputs", ".jsonl")}


@dataclass(frozen=True)
class QueueLayout:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "jobs.db"

    @property
    def database_files(self) -> list[Path]:
        """The database and the journal files SQLite keeps beside it in WAL mode."""
        return [self.db, Path(f"{self.db}-wal"), Path(f"{self.db}-shm")]

    def log(self, job_id: str) -> Path:
        return Path(self.job_file("log", job_id))

    def stderr(self, job_id: str) -> Path:
        return self.root / "logs" / f"{job_id}.stderr"

    def data(self, job_id: str) -> Path:
        return Path(self.job_file("data", job_id))

    def outputs(self, job_id: str) -> Path:
        return Path(self.job_file("outputs", job_id))

    def job_file(self, kind: str, job_id: str) -> str:
        """The path of a job's ``log``, ``data`` or ``outputs`` file, as text (a listing names
        them for up to 1,000 jobs a page: joining strings costs a tenth of joining Paths)."""
        folder, suffix = JOB_FILES[kind]
        return f"{self.root}{os.sep}{folder}{os.sep}{job_id}{suffix}"

    def notebook(self, job_id: str) -> Path:
        return self.root / "outputs" / f"{job_id}.ipynb"

    def config(self, job_id: str) -> Path:
        return self.root / "configs" / f"{job_id}.json"

    @property
    def settings(self) -> Path:
        return self.root / SETTINGS_FILE

    # ---- the database's safety files (see store/integrity.py and store/recovery.py) ---
    @property
    def marker(self) -> Path:
        """Written once the database is created: from then on a missing db is an accident."""
        return self.root / MARKER_FILE

    @property
    def verdict(self) -> Path:
        """The last integrity verdict on ``jobs.db`` and the file identity it applies to."""
        return self.root / VERDICT_FILE

    @property
    def rescued(self) -> Path:
        """Where damaged or orphaned databases are kept aside (never deleted)."""
        return self.root / "rescued"

    def make_rescued(self) -> Path:
        """The rescued/ folder, group-writable in a shared queue (any member's worker uses it)."""
        shared = self.is_shared()
        try:
            self.rescued.mkdir(mode=0o2770 if shared else 0o755)
            if shared:
                os.chmod(self.rescued, 0o2770)
        except FileExistsError:
            pass
        return self.rescued

    @property
    def reserve(self) -> Path:
        """Disk space a worker holds back to record job outcomes when the disk fills."""
        return self.root / RESERVE_FILE

    def write_marker(self) -> None:
        """Best effort (a read-only disk writes nothing); the database exists by now."""
        if self.marker.exists():
            return
        body = {"created_at": time.time(), "user": current_user(), "host": current_host(),
                "meaning": "this folder is a jobmagics queue: a missing jobs.db is an accident"}
        with contextlib.suppress(OSError):
            self.marker.write_text(json.dumps(body) + "\n")
            if self.is_shared():
                os.chmod(self.marker, 0o660)

    def has_history(self) -> bool:
        """Has this folder ever held jobs? (its marker, or any job's file)"""
        return self.marker.exists() or next(self.job_ids_on_disk(), None) is not None

    def job_ids_on_disk(self) -> Iterator[str]:
        """Job ids named by the files in logs/, data/, outputs/, results/ and configs/."""
        for name in SUBDIRS:
            try:
                entries = os.scandir(self.root / name)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    found = JOB_FILE_RE.match(entry.name)
                    if found:
                        yield found.group(1)

    def read_settings(self) -> dict[str, object]:
        try:
            return json.loads(self.settings.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise QueueError(f"cannot read queue settings {self.settings}: {exc}") from None

    @property
    def socket(self) -> Path:
        """Where a system queue's service listens (see ``jobmagics.service``)."""
        return self.root / SOCKET_FILE

    def is_system(self) -> bool:
        """A system queue: only its service writes it (made by ``jobmagics init --system``)."""
        try:
            return self.read_settings().get("mode") == "system"
        except QueueError:
            return False

    def share_files(self) -> bool:
        """Are a system queue's job files (logs, data, outputs) readable by its group?"""
        return bool(self.read_settings().get("share_files", True))

    def service_uid(self) -> int:
        """The account a system queue's service runs as: the owner of its folder."""
        return self.root.stat().st_uid

    def is_shared(self) -> bool:
        """A shared queue is group-writable (made by ``jobmagics init --group``)."""
        try:
            return bool(self.root.stat().st_mode & stat.S_IWGRP)
        except OSError:
            return False


def ensure_layout(root: Path) -> QueueLayout:
    """Create the queue folder on first use; check it is readable; explain what to do if not.

    Safe when several processes open a fresh folder at once (what exists is fine). Writing is
    checked later, before the first write (``check_writable``), so a queue on a read-only
    filesystem, or one this user may only read, still answers every read."""
    layout = QueueLayout(root)
    try:
        exists = root.exists()
    except OSError as exc:          # a name too long, a component that is a file, ...
        raise QueueError(f"cannot use {root} as a queue folder: {exc.strerror}") from None
    if exists and not root.is_dir():
        raise QueueError(f"queue path {root} exists and is not a folder")
    if not exists:
        try:
            mode = 0o700 if is_personal_default(root) else 0o755
            root.mkdir(parents=True, exist_ok=True, mode=mode)
        except OSError as exc:
            raise QueueError(f"cannot create queue folder {root}: {exc.strerror}") from None
    if not os.access(root, os.R_OK | os.X_OK):
        raise QueueError(_not_writable_message(layout, root, "read"))
    if os.access(root, os.W_OK) and not read_only_filesystem(root):
        _make_subdirs(layout)
    return layout


def _make_subdirs(layout: QueueLayout) -> None:
    shared = layout.is_shared()
    for name in SUBDIRS:
        sub = layout.root / name
        try:
            sub.mkdir(mode=0o2770 if shared else 0o755)
        except FileExistsError:
            continue                 # made by us before, or by another process just now
        except OSError as exc:
            raise QueueError(f"cannot create {sub}: {exc.strerror}") from None
        if shared:
            with contextlib.suppress(OSError):
                os.chmod(sub, 0o2770)


def check_writable(layout: QueueLayout) -> None:
    """Fail early, naming the file, when the queue cannot be written by this user."""
    candidates = [layout.root, *layout.database_files,
                  Path(f"{layout.db}-journal"), *(layout.root / s for s in SUBDIRS)]
    for path in candidates:
        if path.exists() and not os.access(path, os.W_OK):
            raise QueueError(_not_writable_message(layout, path))


def read_only_filesystem(path: Path) -> bool:
    """True if the filesystem holding ``path`` is mounted read-only (not even root writes it)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def free_space(path: Path) -> int:
    """Bytes this user may still write on the filesystem holding ``path`` (-1 if unknown)."""
    try:
        info = os.statvfs(path)
    except OSError:
        return -1
    return info.f_bavail * info.f_frsize


def disk_full(path: Path, minimum: int = FULL_BELOW) -> bool:
    """Too little space left for SQLite to commit (a few pages of WAL): treat as full."""
    free = free_space(path)
    return 0 <= free < minimum


def _not_writable_message(layout: QueueLayout, path: Path, verb: str = "write") -> str:
    if verb == "write" and read_only_filesystem(path):
        return (f"cannot write {path}: the filesystem holding it is mounted read-only; nothing was"
                " changed (remount it read-write, or use another queue with --queue DIR)")
    try:
        info = path.stat()
        owner = _name(pwd.getpwuid, info.st_uid)
        group = _name(grp.getgrgid, info.st_gid)
        detail = f"mode {stat.S_IMODE(info.st_mode):04o}, owner {owner}, group {group}"
    except OSError:
        detail = "cannot stat it"
    group_only = None if layout.is_shared() else _group_only(layout.root)
    if group_only is not None and verb == "read":    # a system queue of a group we are not in
        fix = f"it is shared with the group {group_only}: ask its admin to add {current_user()}"
        return f"cannot {verb} {path} as {current_user()} ({detail}): {fix} to that group"
    if layout.is_shared():
        queue_group = _name(grp.getgrgid, layout.root.stat().st_gid)
        fix = (f"ask an admin to run `jobmagics init {layout.root} --group {queue_group}`"
               f" again, or to add {current_user()} to that group")
    else:
        fix = ("use a queue you own (--queue DIR), or have its owner run"
               f" `jobmagics init {layout.root} --group GROUP`")
    return f"cannot {verb} {path} as {current_user()} ({detail}): {fix}"


def _group_only(folder: Path) -> str | None:
    """The group of a folder its group may enter and others may not (a shared queue's)."""
    try:
        info = folder.stat()
    except OSError:
        return None
    if info.st_mode & stat.S_IXGRP and not info.st_mode & stat.S_IXOTH:
        return _name(grp.getgrgid, info.st_gid)
    return None


def _name(lookup: Callable[[int], Sequence[object]], ident: int) -> str:
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
            raise QueueError(f"no Unix group {group!r}"
                             f" (create it with `groupadd {group}`)") from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        folders = [root, *(root / s for s in SUBDIRS)]
        for folder in folders:
            folder.mkdir(exist_ok=True)
            if gid != -1:
                os.chown(folder, -1, gid)
            os.chmod(folder, 0o2770 if gid != -1 else 0o755)
    except PermissionError as exc:
        raise QueueError(f"cannot prepare {root}: {exc.strerror}"
                         " (run as the folder's owner or root)") from None
    return QueueLayout(root)


# A system queue's folders: the service writes logs/, outputs/ and results/; jobs, which run as
# their owners, create their data and config snapshots in the sticky folders, where nobody may
# remove or replace a file of another account.
SYSTEM_MODES = {"": 0o750, "logs": 0o750, "outputs": 0o750, "results": 0o750,
                "data": 0o3770, "configs": 0o3770}


def init_system(root: Path, group: str, *, share_files: bool = True) -> QueueLayout:
    """Prepare a system queue (root only): the service's account owns everything, members of
    ``group`` may read it and reach the service's socket, and write nothing but their own data."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise QueueError(f"no Unix group {group!r} (create it with `groupadd {group}`)") from None
    if os.geteuid() != 0:
        raise QueueError(f"a system queue is made by root: sudo jobmagics init {root} --system"
                         f" --group {group}")
    root.mkdir(parents=True, exist_ok=True)
    for name, mode in SYSTEM_MODES.items():
        folder = root / name if name else root
        folder.mkdir(exist_ok=True)
        os.chown(folder, 0, gid)
        os.chmod(folder, mode)
    layout = QueueLayout(root)
    settings = {**layout.read_settings(), "mode": "system", "group": group,
                "share_files": share_files}
    layout.settings.write_text(json.dumps(settings, indent=1) + "\n")
    os.chown(layout.settings, 0, gid)
    os.chmod(layout.settings, 0o644)
    for path in layout.database_files:
        if path.exists():            # a queue made before, by the group: now the service's alone
            os.chown(path, 0, 0)
            os.chmod(path, 0o600)
    return layout


def fix_shared_file_modes(layout: QueueLayout) -> None:
    """Make every file of a shared queue group read/write (SQLite copies the db's mode)."""
    gid = layout.root.stat().st_gid
    for path in [*layout.database_files, layout.settings]:
        if path.exists():
            os.chown(path, -1, gid)
            os.chmod(path, 0o660)


def fix_private_file_modes(layout: QueueLayout) -> None:
    """A system queue's database is its service's alone: members never open it."""
    for path in layout.database_files:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
            os.chmod(path, 0o600)


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
