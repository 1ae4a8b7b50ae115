"""The files jobs leave in their queue's folder, found by name (every per-job file starts with
its job id: ``logs/JOB-...log``), for a prune (removed once their rows are gone) and for
``du`` (their sizes, from one ``stat`` each: never read). No SQL here.

Where they are (see ``paths.QueueLayout``): ``logs/`` (the log, a separate stderr),
``outputs/`` (rich outputs ``.jsonl``, the notebook ``.ipynb``, a folder of a job's files),
``data/`` (``.h5``), ``configs/`` (an experiment's config snapshot; the named configs' folders
there are not a job's), ``results/``, and what a batch backend leaves in ``<queue>/<system>/``
(the batch script and stdin of a job) and ``<queue>/<system>/reports/`` (one file per attempt
and report, see ``kernel_worker.executors.batch_files``)."""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..model import BACKENDS
from ..paths import JOB_FILE_RE, QueueLayout

# Each folder of per-job files, and which of du's columns its files count in.
KIND_OF_FOLDER = {"logs": "logs", "outputs": "outputs", "data": "data", "configs": "snapshots",
                  "results": "other"}
BATCH_SYSTEMS = tuple(b for b in BACKENDS if b != "local")


@dataclass(frozen=True)
class JobFile:
    """One file (or folder) of a job; ``size``: bytes it takes on disk. (``path`` a str:
    pathlib costs more than the ``stat`` itself at 100,000 files.)"""

    job_id: str
    path: str
    kind: str
    size: int
    mtime: float
    uid: int
    folder: bool


def job_folders(layout: QueueLayout) -> list[tuple[Path, str]]:
    """Every folder that holds per-job files, with the kind of file it holds."""
    folders = [(layout.root / name, kind) for name, kind in KIND_OF_FOLDER.items()]
    for system in BATCH_SYSTEMS:
        folders += [(layout.root / system, "other"), (layout.root / system / "reports", "other")]
    return folders


def job_files(layout: QueueLayout) -> Iterator[JobFile]:
    """Every per-job file of the queue (hidden temporary files and other names left alone)."""
    for folder, kind in job_folders(layout):
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                found = JOB_FILE_RE.match(entry.name)
                if found is None:
                    continue
                with contextlib.suppress(OSError):       # gone since the listing
                    yield _job_file(entry, found.group(1), kind)


def _job_file(entry: os.DirEntry[str], job_id: str, kind: str) -> JobFile:
    info = entry.stat(follow_symlinks=False)
    folder = stat.S_ISDIR(info.st_mode)
    size = _tree_size(entry.path) if folder else _on_disk(info)
    return JobFile(job_id, entry.path, kind, size, info.st_mtime, info.st_uid, folder)


def _on_disk(info: os.stat_result) -> int:
    return info.st_blocks * 512 if hasattr(info, "st_blocks") else info.st_size


def _tree_size(root: str) -> int:
    total = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            with contextlib.suppress(OSError):
                total += _on_disk(os.lstat(os.path.join(folder, name)))
    with contextlib.suppress(OSError):
        total += _on_disk(os.lstat(root))
    return total


def remove(file: JobFile) -> bool:
    """Remove one job file (a folder with what it holds; a link itself, never its target);
    False when it was gone already or cannot be removed."""
    try:
        if file.folder:
            shutil.rmtree(file.path)
        else:
            os.unlink(file.path)
    except FileNotFoundError:
        return False
    except OSError:
        return False
    return True
