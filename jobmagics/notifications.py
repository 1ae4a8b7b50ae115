"""Notifications outside JupyterLab (email, webhooks): the queue's settings for them, a user's
defaults, and what was sent.

A user's defaults live in the user's own config file (``$XDG_CONFIG_HOME/jobmagics/notify.json``,
by default ``~/.config/jobmagics/notify.json``): ``{"notify": ["email:me@lab.org"], "on":
"failure"}``. A submission that names no target gets them (``with_notify_defaults``, called by
``Queue._spec`` for every job); one that names targets uses only those. The queue's settings
(the SMTP server, retention) are declared in ``queue_settings`` and changed by admins only."""
from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidJob
from .fields import by_keyword
from .messages import Notification
from .model import JobSettings, JobSpec, check_job_id
from .queue_part import QueuePart
from .queue_settings import SETTINGS, queue_setting

if TYPE_CHECKING:
    pass

DEFAULTS_FILE = "notify.json"


@dataclass(frozen=True)
class NotifyDefaults:
    """A user's notification defaults: the targets, and on every end or on failure only."""

    notify: tuple[str, ...]
    on: str = "end"

    def to_json(self) -> dict[str, Any]:
        return {"notify": list(self.notify), "on": self.on}


def defaults_path() -> Path:
    """``$XDG_CONFIG_HOME/jobmagics/notify.json`` (default ``~/.config/jobmagics/...``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "jobmagics" / DEFAULTS_FILE


def check_defaults(notify: object, on: object = "end") -> NotifyDefaults:
    """The defaults, checked by the declared checks of the ``notify`` and ``notify_on``
    settings (as a submission is)."""
    declared = by_keyword(JobSettings)
    targets = declared["notify"].check(notify)
    if not targets:
        raise InvalidJob("name at least one target: email:ADDRESS or webhook:URL")
    return NotifyDefaults(tuple(targets), declared["notify_on"].check(on))


# ---- the user's file, read once per change ----------------------------------------------
_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], NotifyDefaults | None]] = {}


def read_defaults(path: Path | None = None) -> NotifyDefaults | None:
    """The user's defaults (None: no file). The file is read again only when its mtime or
    size changed, so submitting 10,000 jobs costs a stat each, not a read."""
    path = path or defaults_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidJob(f"cannot read your notification defaults {path}: {exc.strerror}"
                         " (jobmagics notify clear removes them)") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    defaults = _parse_defaults(path)
    with _cache_lock:
        _cache[path] = (stamp, defaults)
    return defaults


def _parse_defaults(path: Path) -> NotifyDefaults | None:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise InvalidJob("it is not a JSON object")
        if not data.get("notify"):
            return None
        return check_defaults(data.get("notify"), data.get("on", "end"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, InvalidJob) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InvalidJob(f"your notification defaults {path} are unreadable: {reason} (fix it,"
                         " or jobmagics notify clear)") from None


def save_defaults(defaults: NotifyDefaults, path: Path | None = None) -> Path:
    """Write the user's defaults (readable by the user only: addresses are personal)."""
    path = path or defaults_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(defaults.to_json(), handle, indent=2)
        handle.write("\n")
    os.replace(partial, path)
    return path


def clear_defaults(path: Path | None = None) -> bool:
    """Remove the user's defaults; False when there were none."""
    try:
        (path or defaults_path()).unlink()
        return True
    except FileNotFoundError:
        return False


def with_notify_defaults(spec: JobSpec) -> JobSpec:
    """The spec with the submitting user's notification defaults where it names no target
    (an explicit ``notify_on="failure"`` stays)."""
    if spec.notify:
        return spec
    defaults = read_defaults()
    if defaults is None:
        return spec
    on = spec.notify_on if spec.notify_on != "end" else defaults.on
    return dataclasses.replace(spec, notify=list(defaults.notify), notify_on=on)


# ---- the Queue's part ---------------------------------------------------------------------
class NotificationsAPI(QueuePart):
    """A part of ``Queue``: what was sent for a job, and the queue's declared settings."""

    def notifications(self, job_id: str) -> list[Notification]:
        """The job's notifications: each target, whether it was sent, failed (and why) or
        waits, and how many tries it took."""
        return self.store.notifications(check_job_id(job_id))

    def settings(self) -> dict[str, Any]:
        """Every declared queue setting (``queue_settings``) with its value: the one an admin
        set, else its default."""
        stored = self.store.queue_settings()
        return {s.name: stored.get(s.name, s.default) for s in SETTINGS}

    def set_setting(self, name: str, value: Any) -> None:
        """Set a declared queue setting (admins only); ``value`` is text as on the command
        line (``"587"``, ``"yes"``) or the value itself. ``None`` puts it back to its default."""
        declared = queue_setting(name)
        self._require_manager(f"change the setting {name} of")
        parsed = None if value is None else declared.parse(_as_text(value))
        self.store.set_queue_setting(declared.name, parsed)

    def unset_setting(self, name: str) -> None:
        """Put a declared queue setting back to its default (admins only)."""
        self.set_setting(name, None)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
