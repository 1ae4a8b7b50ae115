"""The queue folder: made safely by several processes at once, and known by what it held."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jobmagics import paths
from jobmagics.errors import QueueError


def _open_together(root: Path, barrier: threading.Barrier, errors: list[Exception]) -> None:
    barrier.wait()
    try:
        paths.ensure_layout(root)
    except QueueError as exc:
        errors.append(exc)


def test_ensure_layout_from_many_threads_at_once_always_succeeds(tmp_path: Path) -> None:
    """Each opener finds some folders made by the others a moment ago ("File exists" before)."""
    for n in range(30):
        root, barrier, errors = tmp_path / f"q{n}" / "queue", threading.Barrier(8), []
        threads = [threading.Thread(target=_open_together, args=(root, barrier, errors)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors[0]
        assert all((root / name).is_dir() for name in paths.SUBDIRS)


def test_a_folder_has_history_by_its_marker_or_by_any_job_file(tmp_path: Path) -> None:
    layout = paths.ensure_layout(tmp_path / "q")
    assert not layout.has_history()
    (layout.root / "configs" / "station").mkdir()          # a named config is not a job
    assert not layout.has_history()
    (layout.root / "outputs" / "JOB-20260101-00003.ipynb").write_text("{}")
    assert layout.has_history()
    other = paths.ensure_layout(tmp_path / "r")
    other.write_marker()
    assert other.has_history() and "jobmagics queue" in other.marker.read_text()


def test_job_ids_on_disk_come_from_every_job_folder(tmp_path: Path) -> None:
    layout = paths.ensure_layout(tmp_path / "q")
    for name in ("logs/JOB-20260101-00001.log", "logs/JOB-20260101-00001.stderr", "data/JOB-20260102-123456.h5",
                 "configs/JOB-20260103-00009.json", "results/notes.txt", "logs/JOB-bad.log"):
        (layout.root / name).write_text("")
    assert sorted(set(layout.job_ids_on_disk())) == ["JOB-20260101-00001", "JOB-20260102-123456",
                                                      "JOB-20260103-00009"]


def test_a_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(QueueError, match="not a folder"):
        paths.ensure_layout(tmp_path / "file")


def test_free_space_is_known_and_a_roomy_disk_is_not_full(tmp_path: Path) -> None:
    assert paths.free_space(tmp_path) > 0 and not paths.disk_full(tmp_path)
    assert paths.free_space(tmp_path / "missing") == -1 and not paths.disk_full(tmp_path / "missing")
