"""The systemd unit that runs a system queue's service (``jobmagics install-service``).

Plain text, no I/O: the command writes it and asks systemd to start it."""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

STOP_MARGIN_S = 20          # past the worker's shutdown grace: requeueing, closing the socket
_PLAIN_NAME = re.compile(r"[A-Za-z0-9:_.]")
_PLAIN_WORD = re.compile(r"[A-Za-z0-9@%+=:,./_-]+")


def unit_name(queue: os.PathLike[str] | str) -> str:
    """``jobmagics-<the queue's path, escaped as systemd-escape --path does>.service``."""
    return f"jobmagics-{escape_path(queue)}.service"


def escape_path(path: os.PathLike[str] | str) -> str:
    """``systemd-escape --path``: slashes become dashes, anything else unusual ``\\xNN``."""
    parts = [part for part in os.fspath(path).split("/") if part]
    if not parts:
        return "-"
    text = "/".join(parts)
    escaped = []
    for index, char in enumerate(text):
        if char == "/":
            escaped.append("-")
        elif _PLAIN_NAME.fullmatch(char) and not (index == 0 and char == "."):
            escaped.append(char)
        else:
            escaped.extend(f"\\x{byte:02x}" for byte in char.encode())
    return "".join(escaped)


def exec_word(word: str) -> str:
    """One argument of ``ExecStart=``: quoted when it must be; ``%`` and ``$`` are systemd's
    specifiers and variables, doubled to stay literal."""
    word = word.replace("%", "%%").replace("$", "$$")
    if _PLAIN_WORD.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(python: str, queue: Path, worker_flags: Sequence[str],
              shutdown_grace: float = 10.0) -> str:
    """The unit: the service runs as root (it starts each job as its owner), restarts when it
    ends, and on stop gets SIGTERM alone (KillMode=mixed) so running jobs have the worker's
    shutdown grace to finish before going back to the queue; what is left is then killed."""
    argv = [python, "-m", "jobmagics", "service", "--queue", str(queue), *worker_flags]
    return "\n".join([
        "[Unit]",
        f"Description=jobmagics service for the queue {queue}",
        "After=network-online.target local-fs.target remote-fs.target",
        "Wants=network-online.target",
        f"RequiresMountsFor={exec_word(str(queue))}",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(exec_word(word) for word in argv),
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=always",
        "RestartSec=2",
        "KillMode=mixed",
        f"TimeoutStopSec={int(shutdown_grace) + STOP_MARGIN_S}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])
