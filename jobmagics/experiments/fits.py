"""Small, dependable fits for the built-in experiments (numpy only: no scipy in the stack).

Each model is linear in its amplitudes once its shape parameters (centre, width, frequency,
decay time) are fixed, so we search the shape parameters on a grid, solve the amplitudes in
closed form for every candidate at once, and refine the grid around the best one."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

# (param a, param b) -> basis columns
Shapes = Callable[[np.ndarray, np.ndarray], list[np.ndarray]]


def principal_component(iq: np.ndarray) -> np.ndarray:
    """Project IQ points onto the line they spread along: one real signal per point."""
    centred = np.asarray(iq) - np.mean(iq)
    points = np.stack([centred.real, centred.imag], axis=1)
    direction = np.linalg.svd(points, full_matrices=False)[2][0]
    return points @ direction


def _best_candidate(y: np.ndarray, bases: np.ndarray) -> tuple[int, np.ndarray, float]:
    """bases: (candidates, points, columns). Least squares for all candidates at once."""
    gram = np.einsum("kni,knj->kij", bases, bases) + 1e-12 * np.eye(bases.shape[2])
    projected = np.einsum("kni,n->ki", bases, y)[..., None]
    try:
        coefficients = np.linalg.solve(gram, projected)[..., 0]
    except np.linalg.LinAlgError:    # a candidate too narrow for the few points there are
        coefficients = (np.linalg.pinv(gram) @ projected)[..., 0]
    residuals = np.sum((np.einsum("kni,ki->kn", bases, coefficients) - y) ** 2, axis=1)
    best = int(np.argmin(residuals))
    return best, coefficients[best], float(residuals[best])


def _two_parameter_fit(y: np.ndarray, shapes: Shapes, first: np.ndarray, second: np.ndarray,
                       rounds: int = 3) -> tuple[float, float, np.ndarray, float]:
    """Grid search over two shape parameters, zooming in around the best pair each round."""
    for round_ in range(rounds):
        a, b = (grid.ravel() for grid in np.meshgrid(first, second, indexing="ij"))
        columns = shapes(a[:, None], b[:, None])
        bases = np.stack([np.broadcast_to(c, (len(a), len(y))) for c in columns], axis=2)
        best, coefficients, residual = _best_candidate(y, bases)
        best_a, best_b = a[best], b[best]
        if round_ < rounds - 1:
            first = _zoom(first, best_a)
            second = _zoom(second, best_b)
    return float(best_a), float(best_b), coefficients, residual


def _zoom(grid: np.ndarray, centre: float) -> np.ndarray:
    step = (grid.max() - grid.min()) / max(len(grid) - 1, 1)
    return np.linspace(centre - 2 * step, centre + 2 * step, len(grid))


def lorentzian_dip(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Centre, full width at half depth and depth of a dip in y(x)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    span, step = x.max() - x.min(), (x.max() - x.min()) / max(len(x) - 1, 1)
    guess = x[np.argmin(np.convolve(y, np.ones(3) / 3, mode="same"))]
    centres = np.linspace(guess - 5 * step, guess + 5 * step, 41)
    widths = np.geomspace(step, span, 40)

    def shapes(centre: np.ndarray, width: np.ndarray) -> list[np.ndarray]:
        return lorentzian_basis(x[None, :], centre, width)

    centre, width, coefficients, _ = _two_parameter_fit(y, shapes, centres, widths)
    return {"centre": centre, "width": abs(width), "depth": float(-coefficients[1]),
            "baseline": float(coefficients[0])}


def lorentzian_peak(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Like ``lorentzian_dip`` for a peak (either sign: IQ projections have no fixed sign)."""
    y = np.asarray(y, float)
    flipped = -y if abs(y.max() - np.median(y)) >= abs(y.min() - np.median(y)) else y
    fit = lorentzian_dip(x, flipped)
    return {"centre": fit["centre"], "width": fit["width"], "height": fit["depth"]}


def exponential_decay(t: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """y = offset + amplitude * exp(-t / decay_time)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    span = t.max() - t.min()
    times = np.geomspace(span / 100, span * 10, 120)
    bases = np.stack(decay_basis(t[None, :], times[:, None]), axis=2)
    best, _, _ = _best_candidate(y, bases)
    fine = np.linspace(times[max(best - 1, 0)], times[min(best + 1, len(times) - 1)], 200)
    bases = np.stack(decay_basis(t[None, :], fine[:, None]), axis=2)
    best, coefficients, _ = _best_candidate(y, bases)
    return {"decay_time": float(fine[best]), "amplitude": float(coefficients[1]),
            "offset": float(coefficients[0])}


def dominant_frequency(t: np.ndarray, y: np.ndarray) -> float:
    """The strongest non-zero frequency of evenly sampled y(t) (zero-padded FFT)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    step = (t.max() - t.min()) / max(len(t) - 1, 1)
    padded = 16 * len(t)
    spectrum = np.abs(np.fft.rfft(y - y.mean(), n=padded))
    frequencies = np.fft.rfftfreq(padded, d=step)
    spectrum[frequencies < 1 / (t.max() - t.min())] = 0     # below one period: not an oscillation
    return float(frequencies[int(np.argmax(spectrum))])


def damped_cosine(t: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """y = offset + exp(-t / decay_time) * (a cos 2 pi f t + b sin 2 pi f t)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    span = t.max() - t.min()
    guess = dominant_frequency(t, y)
    frequencies = np.linspace(0.7 * guess, 1.3 * guess, 61)
    decays = np.geomspace(span / 5, span * 100, 30)

    def shapes(frequency: np.ndarray, decay: np.ndarray) -> list[np.ndarray]:
        return damped_cosine_basis(t[None, :], frequency, decay)

    frequency, decay, coefficients, _ = _two_parameter_fit(y, shapes, frequencies, decays)
    return {"frequency": frequency, "decay_time": decay,
            "amplitude": float(np.hypot(coefficients[1], coefficients[2])),
            "offset": float(coefficients[0])}


# ---- the models, once: a fit's basis columns for given shape parameters ------------------
# Each model is a sum of amplitudes times these columns. The fits above search the shape
# parameters with them; a fit curve (below) is the same columns with the amplitudes solved
# for one plotted column, so what is drawn is what was fitted.
def lorentzian_basis(x: np.ndarray, centre: Any, width: Any) -> list[np.ndarray]:
    return [np.ones_like(x * centre), 1 / (1 + (2 * (x - centre) / width) ** 2)]


def decay_basis(t: np.ndarray, decay_time: Any) -> list[np.ndarray]:
    return [np.ones_like(t * decay_time), np.exp(-t / decay_time)]


def damped_cosine_basis(t: np.ndarray, frequency: Any, decay_time: Any) -> list[np.ndarray]:
    envelope = np.exp(-t / decay_time)
    phase = 2 * np.pi * frequency * t
    return [np.ones_like(envelope), envelope * np.cos(phase), envelope * np.sin(phase)]


MODELS: Mapping[str, tuple[tuple[str, ...], Callable[..., list[np.ndarray]]]] = {
    "lorentzian": (("centre", "width"), lorentzian_basis),
    "exponential_decay": (("decay_time",), decay_basis),
    "damped_cosine": (("frequency", "decay_time"), damped_cosine_basis),
}


def fitted_curve(model: str, x_name: str, y_name: str, x: np.ndarray, y: np.ndarray,
                 **shape: float) -> dict[str, Any]:
    """The curve of ``model`` with these shape parameters through ``y(x)`` (its amplitudes
    solved by least squares), as plain data: an experiment stores it in its data file's
    ``fit`` attribute and viewers draw it with ``sample`` (no experiment code needed)."""
    names, basis = MODELS[model]
    columns = np.stack(basis(np.asarray(x, float), *(shape[n] for n in names)), axis=1)
    coefficients = np.linalg.lstsq(columns, np.asarray(y, float), rcond=None)[0]
    return {"model": model, "x": x_name, "y": y_name,
            "shape": {n: float(shape[n]) for n in names},
            "coefficients": [float(c) for c in coefficients]}


def evaluate(curve: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """A ``fitted_curve`` at the points ``x``. ``KeyError``: an unknown model."""
    names, basis = MODELS[curve["model"]]
    columns = basis(np.asarray(x, float), *(float(curve["shape"][n]) for n in names))
    return np.asarray(sum(float(c) * column for c, column in
                          zip(curve["coefficients"], columns, strict=True)), dtype=float)


def sample(curve: Mapping[str, Any], low: float, high: float,
           points: int = 200) -> dict[str, np.ndarray]:
    """``{x name: points evenly from low to high, y name: the curve there}``."""
    x = np.linspace(low, high, points)
    return {"x": x, str(curve["y"]): evaluate(curve, x)}
