"""Configs as files (YAML or JSON alike), the per-key diff, who may write a config, and the
``job.data()``/``job.snapshot()`` shortcuts with their errors."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobmagics
from jobmagics.config_files import config_text, diff_configs, read_config_file, write_config_file
from jobmagics.configs import ConfigStore
from jobmagics.errors import InvalidJob, PermissionDenied
from tests.accounts import OTHER_USER, as_account, ensure_lab_group, ensure_other_user

CONFIG = {"qubit": {"frequency": 5.1e9, "drive": [0.1, 0.2]}, "reps": 100, "note": "cooldown 3",
          "fit": True, "offset": None}


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_a_config_written_as_yaml_or_json_reads_back_the_same(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"station{suffix}"
    write_config_file(path, CONFIG)
    assert read_config_file(path) == CONFIG


def test_yaml_exponents_without_a_dot_are_numbers_as_in_yaml_1_2(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: 1e-6\nb: -2E+3\nc: .5\nd: 7\ne: '1e-6'\nf: 1_000\n")
    assert read_config_file(path) == {"a": 1e-6, "b": -2000.0, "c": 0.5, "d": 7, "e": "1e-6",
                                      "f": 1000}


@pytest.mark.parametrize("name, text, message", [
    ("a.yaml", "a: .nan\n", "a.yaml: a is nan, which JSON cannot hold"),
    ("a.yaml", "1: x\n", "key 1 under the top is not text"),
    ("a.yaml", "a: !!python/object:os.system {}\n", "a.yaml: not valid YAML"),
    ("a.json", '{"a": Infinity}', "a.json: not valid JSON: Infinity is not a JSON number"),
    ("a.json", b"\xff\xfe", "a.json: not UTF-8 text (byte 0xff at offset 0)"),
    ("a.yaml", "just text\n", "a.yaml: a config is a mapping of keys to values, not a str"),
])
def test_a_bad_file_is_one_error_naming_it(tmp_path: Path, name: str, text: str | bytes,
                                           message: str) -> None:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InvalidJob) as refused:
        read_config_file(path)
    assert message in str(refused.value)


def test_a_directory_given_as_a_config_file_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InvalidJob, match=r"dir\.yaml: cannot read it: Is a directory"):
        read_config_file(tmp_path / "dir.yaml")


def test_the_diff_names_each_added_removed_and_changed_key_by_its_dotted_path() -> None:
    old = {"qubit": {"frequency": 5.1e9, "t1": 2e-5}, "reps": 100, "fit": True, "points": 5}
    new = {"qubit": {"frequency": 5.2e9, "drag": 0.1}, "fit": 1, "points": 5.0, "name": "x"}
    assert diff_configs(old, new) == [
        "~ qubit.frequency: 5100000000.0 -> 5200000000.0", "- qubit.t1: 2e-05", "+ qubit.drag: 0.1",
        "- reps: 100", "~ fit: true -> 1", '+ name: "x"']
    assert diff_configs(new, new) == []


def test_a_nested_mapping_replaced_by_a_value_is_one_change() -> None:
    assert diff_configs({"a": {"b": 1}}, {"a": 3}) == ['~ a: {"b": 1} -> 3']


def test_yaml_text_keeps_the_configs_key_order() -> None:
    assert config_text({"z": 1, "a": {"y": 2}}).splitlines() == ["z: 1", "a:", "  y: 2"]


# ---- who may write ---------------------------------------------------------------------
def _as_other(queue_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = ("import sys, jobmagics\nfrom jobmagics.configs import ConfigStore\n"
              f"store = ConfigStore({str(queue_dir)!r})\n" + code)
    return subprocess.run(as_account(OTHER_USER, "-c", script), capture_output=True, text=True,
                          timeout=60, check=False, cwd="/")


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A folder other accounts may enter (pytest's own tmp is root's only)."""
    group = ensure_lab_group()
    if group is None:
        pytest.skip("needs root for a second account")
    ensure_other_user(group)
    base = Path(tempfile.mkdtemp(prefix="jobmagics-configs-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def group_queue(reachable: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "jobmagics", "init", str(reachable / "q"),
                           "--group", str(ensure_lab_group())],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return reachable / "q"


def test_in_a_group_queue_every_member_adds_versions_and_sets_the_main_one(group_queue: Path) -> None:
    ConfigStore(group_queue).save("station", {"a": 1})
    done = _as_other(group_queue, "print(store.save('station', {'a': 2}, note='mine'))\n"
                                  "store.set_main('station', 1)\n")
    assert (done.returncode, done.stdout) == (0, "2\n"), done.stderr
    history = ConfigStore(group_queue).history("station")
    assert [(v.version, v.saved_by, v.main) for v in history] == [(1, "root", True),
                                                                 (2, OTHER_USER, False)]


def test_a_config_whose_files_another_account_owns_is_refused_naming_the_owner(reachable: Path) -> None:
    queue_dir = reachable / "q"                 # a private queue of root's: others read it
    jobmagics.Queue(queue_dir)
    ConfigStore(queue_dir).save("station", {"a": 1})
    done = _as_other(queue_dir, "try:\n    store.save('station', {'a': 2})\n"
                                "except jobmagics.PermissionDenied as exc:\n    print(exc)\n")
    assert done.stdout.strip() == (f"{OTHER_USER} may not change config 'station': its files"
                                   f" belong to {pwd.getpwuid(os.getuid()).pw_name}"), done.stderr
    assert [v.version for v in ConfigStore(queue_dir).history("station")] == [1]
    assert PermissionDenied.__doc__


# ---- job.data() and job.snapshot() -------------------------------------------------------
def test_data_and_snapshot_of_a_job_that_is_no_experiment_say_so(queue: jobmagics.Queue) -> None:
    job = queue.submit(["true"], hold=True)
    for method in (job.data, job.snapshot):
        with pytest.raises(InvalidJob, match=f"{job.id} is a command job, not an experiment"):
            method()


def test_data_and_snapshot_of_an_experiment_not_started_say_it_is_pending(queue: jobmagics.Queue,
                                                                            worker: object) -> None:
    job = queue.submit(experiment="jobmagics.experiments:Rabi", hold=True)
    with pytest.raises(InvalidJob, match=f"{job.id} has no data yet: it is waiting"):
        job.data()
    with pytest.raises(InvalidJob, match=f"{job.id} has no config snapshot yet: it is waiting"):
        job.snapshot()
    job.release()
    assert job.wait(120).state is jobmagics.State.COMPLETED, job.error
    assert job.data().points == job.snapshot()["config"]["points"]
    assert job.snapshot()["code"]["target"] == "jobmagics.experiments.builtin:Rabi"
