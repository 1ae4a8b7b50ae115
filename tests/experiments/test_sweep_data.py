"""An experiment sweep's data as one table (``jobmagics.data.load(array)``): real workers, real
HDF5 files, the swept config as columns that cannot clash with a measured dataset."""
from __future__ import annotations

import numpy as np
import pytest

from jobmagics.data import ExperimentData, SweepData, load
from jobmagics.errors import InvalidJob
from jobmagics.model import State

RABI = "jobmagics.experiments:Rabi"
POINTS = 11


def test_a_sweeps_data_is_one_table_with_the_swept_value_beside_the_measured_one(
        queue, worker):  # type: ignore[no-untyped-def]
    array = queue.sweep(RABI, base={"points": POINTS, "seed": 3},
                        over={"amplitude": [0.2, 0.4, 0.6]}, parallel=1).wait(120)
    assert array.state is State.COMPLETED
    table = load(array)
    assert isinstance(table, SweepData) and table.complete and table.missing == []
    assert table.points == 3 * POINTS and table.swept == ["amplitude"]
    # Rabi measures a signal "amplitude": the drive amplitude it was run at is config.amplitude
    assert {"amplitude", "config.amplitude", "config.points", "length", "element",
            "index"} <= set(table.keys())
    assert table["config.amplitude"].tolist() == [0.2] * POINTS + [0.4] * POINTS + [0.6] * POINTS
    assert not np.allclose(table["amplitude"], table["config.amplitude"])
    assert table["index"].tolist() == [i for i in range(3) for _ in range(POINTS)]
    ids = [job.id for job in array.elements]
    assert table["element"].tolist() == [i for i in ids for _ in range(POINTS)]
    first = load(array.element(0))
    assert isinstance(first, ExperimentData)
    assert np.array_equal(table["length"][:POINTS], first["length"])
    assert table.units["length"] == "s"


def test_an_array_id_loads_the_same_table_and_a_grid_names_every_swept_value(
        queue, worker):  # type: ignore[no-untyped-def]
    array = queue.sweep(RABI, base={"points": POINTS},
                        over={"amplitude": [0.3, 0.5], "seed": [1, 2]}).wait(120)
    table = load(array.id)
    assert isinstance(table, SweepData) and table.points == 4 * POINTS
    assert table.swept == ["amplitude", "seed"]
    assert table["config.seed"][::POINTS].tolist() == [1, 2, 1, 2]
    assert table["config.amplitude"][::POINTS].tolist() == [0.3, 0.3, 0.5, 0.5]
    assert set(table["config.points"].tolist()) == {POINTS}      # from base: a column, not swept


def test_an_element_that_never_ran_has_no_rows_and_is_named_missing(
        queue, worker):  # type: ignore[no-untyped-def]
    array = queue.sweep(RABI, base={"points": POINTS}, over={"amplitude": [0.2, 0.4]},
                        hold=True)
    first, second = array.elements
    queue.release(first.id)
    assert first.wait(120).state is State.COMPLETED
    array.cancel()
    table = load(array)
    assert table.missing == [second.id] and not table.complete
    assert table.points == POINTS and set(table["index"].tolist()) == {0}


def test_an_array_of_commands_has_no_data_to_load(queue):  # type: ignore[no-untyped-def]
    array = queue.submit_array(command=["true"], items=[1, 2])
    with pytest.raises(InvalidJob, match="only experiments write data files"):
        load(array)


def test_a_measured_dataset_named_like_the_tables_own_columns_is_kept_under_data(
        queue, tmp_path, monkeypatch, worker):  # type: ignore[no-untyped-def]
    folder = tmp_path / "lab_code"
    folder.mkdir()
    (folder / "counting.py").write_text(
        "from jobmagics.experiments import Experiment\n\n"
        "class Count(Experiment):\n"
        "    defaults = {'n': 3}\n\n"
        "    def run(self, station, data):\n"
        "        for i in range(self.config['n']):\n"
        "            data.append(index=i * 10, value=i * self.config['n'])\n"
        "        return {}\n")
    monkeypatch.chdir(folder)
    array = queue.sweep("counting:Count", over={"n": [2, 3]}, cwd=str(folder)).wait(120)
    assert array.state is State.COMPLETED, [j.log() for j in array.elements]
    table = load(array)
    assert table["data.index"].tolist() == [0, 10, 0, 10, 20]
    assert table["index"].tolist() == [0, 0, 1, 1, 1]
    assert table["config.n"].tolist() == [2, 2, 3, 3, 3]

