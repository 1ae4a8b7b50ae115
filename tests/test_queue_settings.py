"""The queue's declared settings (``queue_settings``): listed with their defaults, each value
parsed and checked by its declaration, kept under their dotted names apart from the internal
keys, and changed only by the queue's owner or an admin (a real second account tries)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmagics
from jobmagics.cli import main
from jobmagics.errors import InvalidJob
from jobmagics.queue_settings import SETTINGS
from tests.accounts import as_account, ensure_lab_group, ensure_other_user


def test_every_declared_setting_is_listed_at_its_default(queue: jobmagics.Queue) -> None:
    assert queue.settings() == {s.name: s.default for s in SETTINGS}


@pytest.mark.parametrize("name, text, value", [
    ("smtp.host", "mail.example.org", "mail.example.org"), ("smtp.port", "587", 587),
    ("smtp.starttls", "yes", True), ("smtp.starttls", "off", False),
    ("retention.days", "30", 30.0), ("retention.days", "never", None),
    ("retention.keep_data", "no", False)])
def test_a_value_is_parsed_by_its_declaration(queue: jobmagics.Queue, name: str, text: str,
                                              value: object) -> None:
    queue.set_setting(name, text)
    assert queue.settings()[name] == value


@pytest.mark.parametrize("name, text, message", [
    ("smtp.port", "seventy", "'seventy' is not a port number"),
    ("smtp.port", "70000", "70000 is not a port number (1-65535)"),
    ("smtp.starttls", "maybe", "'maybe' is not yes or no"),
    ("retention.days", "-2", "retention.days must be above 0"),
    ("smtp.hots", "x", "unknown queue setting 'smtp.hots'; settings are smtp.host"),
    ("admins", "[\"eve\"]", "unknown queue setting 'admins'"),
    ("paused", "1", "unknown queue setting 'paused'")])
def test_a_bad_key_or_value_is_one_line_and_changes_nothing(
        queue: jobmagics.Queue, name: str, text: str, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    before = (queue.settings(), queue.admins(), queue.store.setting("paused"))
    assert main(["settings", "set", name, text]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    with pytest.raises(InvalidJob, match=re.escape(message.split(";")[0])):
        queue.set_setting(name, text)
    assert (queue.settings(), queue.admins(), queue.store.setting("paused")) == before


def test_settings_live_under_their_dotted_names_apart_from_the_internal_keys(
        queue: jobmagics.Queue, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "set", "smtp.host", "mail.example.org"]) == 0
    assert queue.store.setting("smtp.host") == "mail.example.org"
    assert main(["settings", "unset", "smtp.host"]) == 0
    assert queue.store.setting("smtp.host", "absent") == "absent"
    capsys.readouterr()
    assert main(["settings"]) == 0
    listed = capsys.readouterr().out
    assert all(s.name in listed and s.help in listed for s in SETTINGS)
    assert "only a queue admin changes them" in listed


@pytest.fixture
def group_queue() -> Iterator[Path]:
    """A group queue (root owns it) in a folder a second account can enter."""
    group = ensure_lab_group()
    if group is None:
        pytest.fail("a second account needs root: run the suite as root (CI does)",
                    pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="jm-settings-", dir="/tmp"))
    os.chmod(base, 0o755)
    made = subprocess.run([sys.executable, "-m", "jobmagics", "init", str(base / "queue"),
                           "--group", group], capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    yield base / "queue"
    shutil.rmtree(base)


def test_a_member_who_is_neither_owner_nor_admin_cannot_change_a_setting(
        group_queue: Path) -> None:
    member = ensure_other_user(ensure_lab_group() or "")

    def settings_set() -> subprocess.CompletedProcess[str]:
        return subprocess.run(as_account(member, "-m", "jobmagics", "--queue", str(group_queue),
                                         "settings", "set", "smtp.host", "evil.example.org"),
                              capture_output=True, text=True, cwd="/tmp", timeout=60,
                              check=False)

    refused = settings_set()
    assert refused.returncode == 2
    assert refused.stderr.strip() == (f"jobmagics: error: {member} may not change the setting"
                                      " smtp.host of this queue: only its owner or a queue"
                                      " admin may")
    queue = jobmagics.Queue(group_queue)
    assert queue.settings()["smtp.host"] is None
    queue.add_admin(member)
    assert settings_set().returncode == 0
    assert queue.settings()["smtp.host"] == "evil.example.org"
