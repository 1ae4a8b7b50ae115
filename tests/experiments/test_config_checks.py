"""An experiment's config: defaults, types and ranges checked before the station is touched."""
from __future__ import annotations

import pytest

from jobmagics.errors import InvalidJob
from jobmagics.experiments import Experiment, Rabi, load_experiment_class


def test_the_config_is_the_defaults_overlaid_with_what_was_submitted():
    rabi = Rabi({"amplitude": 0.3, "points": 41})
    assert rabi.config["amplitude"] == 0.3 and rabi.config["points"] == 41
    assert rabi.config["reps"] == Rabi.defaults["reps"]
    assert rabi.submitted == {"amplitude": 0.3, "points": 41}


@pytest.mark.parametrize("config, message", [
    ({"pionts": 3}, "unknown key 'pionts'; did you mean 'points'?"),
    ({"points": "many"}, "'points' must be a whole number, not 'many'"),
    ({"points": 2.5}, "'points' must be a whole number"),
    ({"amplitude": True}, "'amplitude' must be a number"),
    ({"amplitude": 3.0}, "amplitude must be in (0, 1]"),
    ({"start": 1e-6, "stop": 0.0}, "stop must be greater than start"),
    ({"points": 1}, "points must be at least 3"),
])
def test_bad_config_values_get_one_clear_error(config, message):
    with pytest.raises(InvalidJob) as caught:
        Rabi(config)
    assert str(caught.value).startswith("bad config for Rabi: ")
    assert message in str(caught.value)


def test_whole_floats_are_accepted_where_a_whole_number_is_expected():
    assert Rabi({"points": 41.0}).config["points"] == 41


def test_an_experiment_without_defaults_accepts_any_keys():
    class Free(Experiment):
        def run(self, station, data):
            return None

    assert Free({"anything": [1, 2]}).config == {"anything": [1, 2]}


def test_the_submit_time_check_never_reloads_a_module_the_notebook_imported(tmp_path):
    """A notebook's ``import mylab`` keeps its state (a connection made at run time) through a
    submit that checks a class of that module, even after the file changed."""
    import sys

    from jobmagics.experiments.checking import find_class
    module = tmp_path / "stateful_lab_module.py"
    module.write_text("from jobmagics.experiments import Experiment\nstation = None\n"
                      "class E(Experiment):\n    version = 1\n"
                      "    def run(self, station, data):\n        return None\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import stateful_lab_module  # type: ignore[import-not-found]
        stateful_lab_module.station = "connected"
        module.write_text(module.read_text().replace("version = 1", "version = 20"))
        cls, why = find_class("stateful_lab_module:E", str(tmp_path))
        assert why is None and cls is not None and cls.version == 20   # the file as it is now
        assert sys.modules["stateful_lab_module"] is stateful_lab_module
        assert stateful_lab_module.station == "connected" and stateful_lab_module.E.version == 1
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("stateful_lab_module", None)


def test_a_module_imported_earlier_is_reloaded_so_edits_are_run(tmp_path):
    module = tmp_path / "edited_lab_module.py"
    module.write_text("from jobmagics.experiments import Experiment\nclass E(Experiment):\n    version = 1\n"
                      "    def run(self, station, data):\n        return None\n")
    assert load_experiment_class("edited_lab_module:E", [str(tmp_path)]).version == 1
    module.write_text(module.read_text().replace("version = 1", "version = 20"))  # new size: a stale .pyc cannot match
    assert load_experiment_class("edited_lab_module:E", [str(tmp_path)]).version == 20
