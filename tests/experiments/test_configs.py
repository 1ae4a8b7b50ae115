"""Named, versioned configs (push/pull) in <queue>/configs/."""
from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from jobmagics.configs import ConfigStore, config_history, load_config, save_config, set_main_config
from jobmagics.errors import InvalidJob


def test_saving_a_config_returns_increasing_versions_and_pull_gives_the_main_one(queue):
    assert save_config("station", {"time_scale": 0.01}) == 1
    assert save_config("station", {"time_scale": 0.02}, note="faster") == 2
    assert load_config("station") == {"time_scale": 0.02}
    assert load_config("station", version=1) == {"time_scale": 0.01}
    assert [(v.version, v.main, v.note) for v in config_history("station")] == [(1, False, None), (2, True, "faster")]


def test_saving_identical_content_reuses_the_existing_version(queue):
    first = save_config("readout", {"frequency": 7.0125e9, "length": 2e-6})
    save_config("readout", {"frequency": 7.02e9})
    again = save_config("readout", {"length": 2e-6, "frequency": 7.0125e9})
    assert again == first
    assert len(config_history("readout")) == 2
    assert load_config("readout") == {"frequency": 7.0125e9, "length": 2e-6}


def test_an_older_version_can_be_made_main_again(queue):
    save_config("pulses", {"sigma": 1})
    save_config("pulses", {"sigma": 2})
    set_main_config("pulses", 1)
    assert load_config("pulses") == {"sigma": 1}


def test_a_version_saved_without_main_does_not_change_what_pull_returns(queue):
    save_config("pulses", {"sigma": 1})
    save_config("pulses", {"sigma": 3}, main=False)
    assert load_config("pulses") == {"sigma": 1}


def _save_many(queue_path: str, offset: int) -> list[int]:
    store = ConfigStore(queue_path)
    return [store.save("shared", {"value": offset + i}, main=False) for i in range(10)]


def test_two_users_saving_at_once_never_overwrite_each_other(queue_dir: Path, queue):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_save_many, [(str(queue_dir), 0), (str(queue_dir), 100)])
    versions = sorted(v for chunk in results for v in chunk)
    assert versions == list(range(1, 21))
    values = sorted(v.load()["value"] for v in config_history("shared"))
    assert values == [*range(10), *range(100, 110)]


@pytest.mark.parametrize("name", ["", "1abc", "a/b", "JOB-20261121-00001", "../up"])
def test_bad_config_names_are_refused(queue, name):
    with pytest.raises(InvalidJob, match="bad config name"):
        save_config(name, {"a": 1})


def test_a_config_must_be_plain_json(queue):
    with pytest.raises(InvalidJob, match="plain JSON"):
        save_config("station", {"when": object()})
    with pytest.raises(InvalidJob, match="must be a dict"):
        save_config("station", [1, 2])  # type: ignore[arg-type]


def test_pulling_a_config_that_does_not_exist_says_which_exist(queue):
    save_config("station", {})
    with pytest.raises(InvalidJob, match=r"no config named 'nope' in this queue \(known: station\)"):
        load_config("nope")
    with pytest.raises(InvalidJob, match="has no version 9"):
        load_config("station", version=9)
