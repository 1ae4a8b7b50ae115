"""The built-in fits on the simulated station's data: a run that took its data is never lost to
a fit that cannot solve a degenerate candidate of its grid search."""
from __future__ import annotations

from jobmagics import instruments
from jobmagics.experiments import builtin


def test_a_rabi_of_five_points_always_fits_on_the_simulated_station() -> None:
    station = instruments.connect_station()
    for _ in range(100):            # one in six of these hit a singular matrix before
        rabi = builtin.Rabi({"points": 5})
        points = rabi.linspace()
        summary = rabi.fit(builtin._iq_columns(rabi.axis, points, rabi.measure(station, points)))
        assert summary and all(value == value for value in summary.values()
                               if isinstance(value, float))          # no NaN either
