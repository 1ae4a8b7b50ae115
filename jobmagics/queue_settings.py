"""The queue's settings, declared once: each one's name, type, default and help. They live in
the database's ``settings`` table (``jobmagics settings``, ``Queue.settings()``), are the same
for every member, and only a queue admin changes them. Plain data: no I/O here."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidJob


@dataclass(frozen=True)
class QueueSetting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any]          # from the command line's text


def _bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidJob(f"{text!r} is not yes or no")


def _port(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InvalidJob(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise InvalidJob(f"{value} is not a port number (1-65535)")
    return value


def _days(text: str) -> float | None:
    if str(text).strip().lower() in ("", "none", "off", "never"):
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidJob(f"{text!r} is not a number of days (or 'off')") from None
    if not value > 0:
        raise InvalidJob(f"retention.days must be above 0, not {value:g} (or 'off')")
    return value


def _text(text: str) -> str | None:
    value = str(text).strip()
    return value or None


SETTINGS: tuple[QueueSetting, ...] = (
    QueueSetting("smtp.host", None, "the SMTP server that sends email notifications", _text),
    QueueSetting("smtp.port", 25, "its port (465: implicit TLS)", _port),
    QueueSetting("smtp.from", None, "the sender of notifications (default: jobmagics@HOST)",
                 _text),
    QueueSetting("smtp.starttls", False, "upgrade the connection with STARTTLS", _bool),
    QueueSetting("smtp.user", None, "log in as this user (with smtp.password_file)", _text),
    QueueSetting("smtp.password_file", None,
                 "a file (readable by the workers only) holding the SMTP password", _text),
    QueueSetting("retention.days", None,
                 "workers prune finished jobs older than this, daily (off: never)", _days),
    QueueSetting("retention.keep_data", True,
                 "a prune by the workers keeps the data files (data/<id>.h5)", _bool),
)
BY_NAME: Mapping[str, QueueSetting] = {s.name: s for s in SETTINGS}


def queue_setting(name: str) -> QueueSetting:
    """The declared setting, or ``InvalidJob`` naming the ones there are."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise InvalidJob(f"unknown queue setting {name!r}; settings are"
                         f" {', '.join(BY_NAME)}") from None
