"""Named, versioned configs (push/pull) and the per-job config snapshots, as JSON files in
``<queue>/configs/``.

- ``configs/<name>/v0001.json``...: immutable versions of a named config (e.g. ``station``);
  saving content identical to an existing version returns that version (no duplicate copies).
- ``configs/<name>/main.json``: which version is "main", the canonical one ``pull`` returns.
- ``configs/<job id>.json``: exactly what an experiment job ran with (written by the runner).

Files only, no SQL: a new version is claimed with O_EXCL (two users saving at once get two
versions, never one overwritten), and the main pointer is replaced atomically."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .errors import InvalidJob, PermissionDenied
from .model import JOB_ID_RE, check_job_id

if TYPE_CHECKING:
    from .client import Queue

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_VERSION_RE = re.compile(r"^v(\d{4,})\.json$")
MAIN_FILE = "main.json"


@dataclass(frozen=True)
class ConfigVersion:
    """One saved version of a named config."""

    name: str
    version: int
    sha256: str
    saved_by: str
    saved_at: float
    note: str | None
    main: bool
    path: Path

    def load(self) -> dict[str, Any]:
        return dict(_read_json(self.path)["data"])


def canonical_json(data: Mapping[str, Any], what: str) -> str:
    """The one text form used for hashing: sorted keys, no whitespace, no NaN."""
    if not isinstance(data, Mapping):
        raise InvalidJob(f"{what} must be a dict, not {type(data).__name__}")
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidJob(
            f"{what} must be plain JSON (numbers, text, lists, dicts): {exc}") from None


class ConfigStore:
    """The configs of one queue (a ``Queue``, a queue folder, or the default queue)."""

    def __init__(self,
                 queue: Queue | paths.QueueLayout | str | os.PathLike[str] | None = None) -> None:
        if isinstance(queue, paths.QueueLayout):
            self.layout = queue
        elif queue is None or isinstance(queue, (str, os.PathLike)):
            self.layout = paths.ensure_layout(paths.resolve_queue_dir(queue))
        else:
            self.layout = queue.layout          # a Queue
        self.root = self.layout.root / "configs"

    # ---- named configs ----------------------------------------------------------------
    def save(self, name: str, data: Mapping[str, Any], *, note: str | None = None,
             main: bool = True) -> int:
        """Store a new version (or find the identical one) and return its number; by default
        it also becomes the main version (``push``)."""
        text = canonical_json(data, f"config {name!r}")
        with self._writing(name):
            return self._save(name, text, note, main)

    def _save(self, name: str, text: str, note: str | None, main: bool) -> int:
        folder = self._folder(name, create=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        existing = next((v for v in self.history(name) if v.sha256 == digest), None)
        version = (existing.version if existing
                   else self._write_new_version(folder, name, text, digest, note))
        if main:
            self.set_main(name, version)
        return version

    def _write_new_version(self, folder: Path, name: str, text: str, digest: str,
                           note: str | None) -> int:
        record = {"name": name, "sha256": digest, "saved_by": paths.current_user(),
                  "saved_at": time.time(), "note": note, "data": json.loads(text)}
        number = max(self._version_numbers(folder), default=0) + 1
        draft = folder / f".draft.{secrets.token_hex(8)}"
        try:
            while True:
                # written completely first, then published under its number with link(), which
                # fails if that number is taken: readers never see half a file, racers never clash
                _write_file(draft,
                            json.dumps(record | {"version": number}, indent=1, sort_keys=True),
                            self._file_mode())
                try:
                    os.link(draft, folder / f"v{number:04d}.json")
                    return number
                except FileExistsError:
                    number += 1
                    draft.unlink()          # written anew, with the next number, as a new file
        finally:
            draft.unlink(missing_ok=True)

    def load(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The data of a version; without one, the main version (``pull``), else the latest."""
        return self.info(name, version).load()

    def info(self, name: str, version: int | None = None) -> ConfigVersion:
        versions = self.history(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise InvalidJob(f"no config named {name!r} in this queue (known: {known})")
        if version is None:
            return next((v for v in versions if v.main), versions[-1])
        found = next((v for v in versions if v.version == version), None)
        if found is None:
            raise InvalidJob(f"config {name!r} has no version {version}"
                             f" (it has 1..{versions[-1].version})")
        return found

    def history(self, name: str) -> list[ConfigVersion]:
        """Every version of a named config, oldest first."""
        folder = self._folder(name, create=False)
        main = self.main_version(name)
        versions = []
        for number in sorted(self._version_numbers(folder)):
            path = folder / f"v{number:04d}.json"
            record = _read_json(path)
            versions.append(ConfigVersion(name, number, record["sha256"], record["saved_by"],
                                          record["saved_at"], record.get("note"), number == main,
                                          path))
        return versions

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_RE.match(p.name))

    def main_version(self, name: str) -> int | None:
        return self._main_record(name).get("version")

    def _main_record(self, name: str) -> dict[str, Any]:
        try:
            record = _read_json(self._folder(name, create=False) / MAIN_FILE)
        except FileNotFoundError:
            return {}
        return {"version": int(record["version"]), "set_by": record.get("set_by"),
                "set_at": record.get("set_at")}

    def summary(self, name: str) -> dict[str, Any]:
        """One line of ``config list``: the main version, how many, the last change and who
        made it (a new version, or the main one set)."""
        versions = self.history(name)
        if not versions:
            raise InvalidJob(f"no config named {name!r} in this queue")
        main = self._main_record(name)
        changes = [(v.saved_at, v.saved_by) for v in versions]
        if main.get("set_at") is not None:
            changes.append((float(main["set_at"]), str(main.get("set_by"))))
        changed_at, changed_by = max(changes)
        return {"name": name, "main": main.get("version"), "versions": len(versions),
                "latest": versions[-1].version, "changed_at": changed_at,
                "changed_by": changed_by}

    def set_main(self, name: str, version: int) -> None:
        """Make an existing version the main one (what ``pull`` and new jobs get)."""
        folder = self._folder(name, create=False)
        if version not in self._version_numbers(folder):
            known = self._version_numbers(folder)
            raise InvalidJob(f"config {name!r} has no version {version}" + (
                f" (it has 1..{max(known)})" if known else " (no such config)"))
        record = {"version": version, "set_by": paths.current_user(), "set_at": time.time()}
        with self._writing(name):
            _write_atomically(folder / MAIN_FILE, json.dumps(record), self._file_mode())

    @contextlib.contextmanager
    def _writing(self, name: str) -> Iterator[None]:
        """A write the files' modes refuse is said as such: in a group queue every member may
        write every config; in a system queue configs are files the service does not write,
        so a config belongs to whoever pushed its first version (and root)."""
        try:
            yield
        except PermissionError:
            folder = self.root / name
            try:
                owner = pwd.getpwuid(folder.stat().st_uid).pw_name
            except (OSError, KeyError):
                owner = "another account"
            system = (" in a system queue a config belongs to whoever pushed its first"
                      " version; push under a name of your own" if self.layout.is_system()
                      else "")
            raise PermissionDenied(f"{paths.current_user()} may not change config {name!r}:"
                                   f" its files belong to {owner}" + (f";{system}" if system
                                                                      else "")) from None

    # ---- job snapshots ----------------------------------------------------------------
    def snapshot_path(self, job_id: str) -> Path:
        return self.layout.config(check_job_id(job_id))

    def write_snapshot(self, job_id: str, snapshot: Mapping[str, Any]) -> Path:
        path = self.snapshot_path(job_id)
        _write_atomically(path, json.dumps(snapshot, indent=1, sort_keys=True, default=str),
                          self._file_mode())
        return path

    def snapshot(self, job_id: str) -> dict[str, Any]:
        """What experiment job ``job_id`` ran with: config, code identity, station, who, where."""
        path = self.snapshot_path(job_id)
        try:
            return dict(_read_json(path))
        except FileNotFoundError:
            raise InvalidJob(f"{job_id} has no config snapshot ({path} does not exist): only"
                             " experiment jobs that started have one") from None

    # ---- files ------------------------------------------------------------------------
    def _folder(self, name: object, *, create: bool) -> Path:
        """The folder of a named config; ``name`` is checked (it comes from users)."""
        if not isinstance(name, str) or not NAME_RE.match(name) or JOB_ID_RE.match(name):
            raise InvalidJob(f"bad config name {name!r}: use letters, digits, '_', '-', '.',"
                             " starting with a letter")
        folder = self.root / name
        if create and not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            if self.layout.is_shared():
                os.chmod(folder, 0o2770)
        return folder

    def _file_mode(self) -> int:
        return 0o660 if self.layout.is_shared() else 0o644

    @staticmethod
    def _version_numbers(folder: Path) -> list[int]:
        if not folder.is_dir():
            return []
        return [int(m.group(1)) for p in folder.iterdir() if (m := _VERSION_RE.match(p.name))]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise InvalidJob(f"cannot read {path}: {exc}") from None


def _write_file(path: Path, text: str, mode: int) -> None:
    """Write a NEW file (never one that is there, nor through a link someone put there: the
    configs folder of a system queue is shared, and its snapshots are written as root)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _write_atomically(path: Path, text: str, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    _write_file(temporary, text, mode)
    os.replace(temporary, path)


# ---- the short forms of the notebook ----------------------------------------------------
def save_config(name: str, data: Mapping[str, Any], *, note: str | None = None, main: bool = True,
                queue: Queue | str | os.PathLike[str] | None = None) -> int:
    """``push``: save a new version of a named config; returns its version number."""
    return ConfigStore(queue).save(name, data, note=note, main=main)


def load_config(name: str, version: int | None = None,
                queue: Queue | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``pull``: the main version of a named config (or the given version)."""
    return ConfigStore(queue).load(name, version)


def config_history(name: str,
                   queue: Queue | str | os.PathLike[str] | None = None) -> list[ConfigVersion]:
    return ConfigStore(queue).history(name)


def set_main_config(name: str, version: int,
                    queue: Queue | str | os.PathLike[str] | None = None) -> None:
    ConfigStore(queue).set_main(name, version)


def job_snapshot(job_id: str,
                 queue: Queue | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The config snapshot of an experiment job: exactly what produced its data."""
    return ConfigStore(queue).snapshot(job_id)


push_config = save_config
pull_config = load_config
