"""``%%job submit --sweep NAME=VALUES``: the values a cell is run over, read from the magic line.

``amplitude=0:1:11`` is START:STOP:N, N points from START to STOP inclusive (as
``numpy.linspace``); ``amplitude=1,2,5`` lists them (numbers where they read as numbers, text
otherwise). Several ``--sweep`` make a grid: every combination, the last name varying fastest
(``jobmagics.arrays.sweep_points``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..arrays import MAX_ELEMENTS, sweep_points
from ..errors import InvalidJob

SWEEP_HELP = ("NAME=START:STOP:N (N points, both ends included, as numpy.linspace) or"
              " NAME=V1,V2,...: the cell runs once per value, with NAME set; repeat for a grid")


def sweep_grid(specs: Sequence[str]) -> list[dict[str, Any]]:
    """Every point of the grid the ``--sweep`` options give, in index order."""
    over: dict[str, list[Any]] = {}
    for spec in specs:
        name, values = sweep_values(spec)
        if name in over:
            raise InvalidJob(f"--sweep {name} is given twice; give all its values in one")
        over[name] = values
    size = 1
    for values in over.values():
        size *= len(values)
    if size > MAX_ELEMENTS:
        raise InvalidJob(f"the sweep has {size:,} points; an array holds at most"
                         f" {MAX_ELEMENTS:,}")
    return sweep_points(over)


def sweep_values(spec: str) -> tuple[str, list[Any]]:
    """``"amplitude=0:1:3"`` -> ``("amplitude", [0.0, 0.5, 1.0])``."""
    name, equals, text = spec.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise InvalidJob(f"--sweep {spec!r}: give {SWEEP_HELP.split(':', 1)[0]} (e.g."
                         " amplitude=0:1:11), the name a python variable name")
    text = text.strip()
    if not text:
        raise InvalidJob(f"--sweep {name}= has no values: give START:STOP:N or V1,V2,...")
    if ":" in text:
        return name, _linspace(name, text)
    values = [_value(part.strip()) for part in text.split(",")]
    if any(v == "" for v in values):
        raise InvalidJob(f"--sweep {name}={text}: an empty value in the list")
    return name, values


def _linspace(name: str, text: str) -> list[float]:
    parts = text.split(":")
    if len(parts) != 3:
        raise InvalidJob(f"--sweep {name}={text}: a range is START:STOP:N (e.g. 0:1:11)")
    start, stop = (_number(name, p, "START" if i == 0 else "STOP") for i, p in enumerate(parts[:2]))
    count = parts[2].strip()
    if not count.isdigit() or int(count) < 1:
        raise InvalidJob(f"--sweep {name}={text}: N is how many values, a whole number >= 1,"
                         f" not {count!r}")
    if int(count) > MAX_ELEMENTS:
        raise InvalidJob(f"--sweep {name}={text}: at most {MAX_ELEMENTS:,} values")
    import numpy as np  # the notebook has it; the magics need it only here
    return [float(v) for v in np.linspace(start, stop, int(count))]


def _number(name: str, text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidJob(f"--sweep {name}: {what} must be a number, not {text!r}") from None


def _value(text: str) -> Any:
    """``"5"`` -> 5, ``"0.5"`` -> 0.5, anything else stays text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
