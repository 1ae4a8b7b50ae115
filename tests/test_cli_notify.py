"""``--notify``/``--notify-on`` on every submission door, ``jobmagics notify`` (a user's
defaults in the user's own config file) and their bad input: one line, exit 2, nothing
changed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

import jobmagics
from jobmagics import notifications
from jobmagics.cli import main
from jobmagics.errors import InvalidJob

HOOK = "webhook:https://chat.example.org/hooks/abc"


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def test_the_command_line_submits_with_repeated_notify_and_notify_on(
        queue: jobmagics.Queue, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "--notify", "email:a@example.org", "--notify", HOOK,
                 "--notify-on", "failure", "--", "true"]) == 0
    job = queue.get(capsys.readouterr().out.strip())
    assert job.record.notify == ["email:a@example.org", HOOK]
    assert job.record.notify_on == "failure"


@pytest.mark.parametrize("target", ["email:nobody", "sms:+4912345", "webhook:ftp://x.org",
                                    "webhook:"])
def test_a_bad_target_is_one_line_and_nothing_is_queued(
        queue: jobmagics.Queue, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", "--notify", target, "--", "true"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not email:ADDRESS or webhook:http(s)://URL" in err
    assert queue.count() == 0
    with pytest.raises(InvalidJob, match="is not email:ADDRESS"):
        queue.submit(["true"], notify=[target])


def test_a_bad_notify_on_is_refused(queue: jobmagics.Queue,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["submit", "--notify", HOOK, "--notify-on", "sometimes", "--", "true"])
    assert exit_.value.code == 2 and queue.count() == 0
    with pytest.raises(InvalidJob, match="notify_on is one of end, failure"):
        queue.submit(["true"], notify=[HOOK], notify_on="sometimes")


def test_the_magic_submits_with_notify(queue: jobmagics.Queue) -> None:
    start_ipython()
    shell = get_ipython()
    shell.run_line_magic("load_ext", "jobmagics")
    magics = shell.magics_manager.registry["JobMagics"]
    magics._last_job, magics._queues = None, {}
    shell.run_cell_magic("job", f"submit --notify {HOOK} --notify-on failure", "x = 1")
    [job] = queue.jobs()
    assert job.record.notify == [HOOK] and job.record.notify_on == "failure"
    with pytest.raises(UsageError, match="is not email:ADDRESS"):
        shell.run_cell_magic("job", "submit --notify email:nobody", "x = 1")
    assert queue.count() == 1


def test_notify_set_show_and_clear_keep_the_defaults_in_the_users_config_file(
        queue: jobmagics.Queue, config_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "set", "email:me@example.org", HOOK, "--on", "failure"]) == 0
    path = config_home / "jobmagics" / "notify.json"
    assert json.loads(path.read_text()) == {"notify": ["email:me@example.org", HOOK],
                                            "on": "failure"}
    assert path.stat().st_mode & 0o077 == 0                     # addresses are personal
    capsys.readouterr()
    assert main(["notify", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["on"] == "failure"
    assert queue.submit(["true"]).record.notify == ["email:me@example.org", HOOK]
    assert main(["notify", "clear"]) == 0 and not path.exists()
    assert queue.submit(["true"]).record.notify == []
    assert main(["notify"]) == 0
    assert "no notification defaults" in capsys.readouterr().out


def test_notify_set_with_a_bad_target_changes_nothing(
        config_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "set", "email:me@example.org"]) == 0
    before = (config_home / "jobmagics" / "notify.json").read_text()
    assert main(["notify", "set", "email:you@example.org", "pager:42"]) == 2
    assert "pager:42" in capsys.readouterr().err
    assert (config_home / "jobmagics" / "notify.json").read_text() == before


def test_a_broken_defaults_file_is_named_at_submit(
        queue: jobmagics.Queue, config_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_home / "jobmagics" / "notify.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert main(["submit", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "jobmagics notify clear" in err and queue.count() == 0
    assert main(["submit", "--notify", HOOK, "--", "true"]) == 0   # explicit targets: not read


def test_the_defaults_file_is_read_once_for_many_submissions(
        queue: jobmagics.Queue, config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["notify", "set", HOOK]) == 0
    reads = []
    parse = notifications._parse_defaults
    monkeypatch.setattr(notifications, "_parse_defaults",
                        lambda path: reads.append(path) or parse(path))
    notifications._cache.clear()
    jobs = queue.submit_many([{"command": ["true"]} for _ in range(500)])
    assert len(reads) == 1 and all(j.record.notify == [HOOK] for j in jobs[:3])
