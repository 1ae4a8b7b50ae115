"""`python bench/bench_job_view.py`: the job view's data route over HTTP (issue 13), from a
real `jupyter server` with the jobmagics extension.

An experiment's data file of ``--points`` points (default 100,000; the route's cap per answer)
and five float columns, as the built-in experiments write it (``DataWriter``, SWMR), with a
fit curve. Figures (p50 and max of ``--repeat`` requests):

(a) ``GET jobs/<id>/data`` from offset 0: every point in one answer (what a view opened on a
    finished run asks once), its size in bytes;
(b) ``GET jobs/<id>/data?offset=points-100``: the poll of a live view that holds all but the
    last 100 points (what it asks every time the run grows);
(c) (a) without HTTP: ``job_data.read_data`` and the JSON encoding in this process, the part
    of (a) that is jobmagics's.

Target: (b) < 20 ms so a live plot can follow a run several times a second; (a) well under a
second. Printed and merged into bench/results.json under "job_view".
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import Server
from results import save

import jobmagics
from jobmagics.data import DataWriter
from jobmagics.experiments import fits
from jobmagics.job_data import read_data


def write_run(job: jobmagics.Job, points: int) -> None:
    """A finished run of ``points`` points in five columns, as an experiment leaves it."""
    x = np.linspace(0, 2e-7, points)
    rng = np.random.default_rng(1)
    i = 0.1 * np.cos(2 * np.pi * 12e6 * x) * np.exp(-x / 1e-6) + rng.normal(0, 0.01, points)
    with DataWriter(job.data_path, attrs={"fit": None}) as data:
        data.set_units(length="s", i="a.u.", q="a.u.", amplitude="a.u.", phase="rad")
        data.set_plot("length", "i")
        for start in range(0, points, 10_000):
            part = slice(start, start + 10_000)
            data.extend(length=x[part], i=i[part], q=-i[part], amplitude=np.abs(i[part]),
                        phase=np.angle(i[part] + 1j))
        data.set_attrs(fit=fits.fitted_curve("damped_cosine", "length", "i", x, i,
                                             frequency=12e6, decay_time=1e-6))
        data.close(summary={"rabi_frequency": 12e6})


def timings(call: Any, repeat: int) -> tuple[list[float], Any]:
    seconds, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = call()
        seconds.append(time.perf_counter() - started)
    return seconds, value


def figure(seconds: list[float], size: int) -> dict[str, Any]:
    return {"p50_ms": round(statistics.median(seconds) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1), "bytes": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jobmagics-bench-job-view-"))
    try:
        q = jobmagics.Queue(home / "queue")
        job = q.submit(experiment="jobmagics.experiments:Rabi", config={"points": 5}, hold=True)
        write_run(job, args.points)
        local, body = timings(lambda: json.dumps(read_data(job.data_path, 0)), args.repeat)
        server = Server(q.path, home)
        try:
            route = f"jobmagics/api/jobs/{job.id}/data"
            whole, (status, text, _) = timings(lambda: server.get(route), args.repeat)
            assert status == 200, text[:300]
            answer = json.loads(text)
            assert len(answer["columns"]["i"]) == args.points and answer["fit"] is not None
            tail_route = f"{route}?offset={args.points - 100}"
            tail, (_, tail_text, _) = timings(lambda: server.get(tail_route), args.repeat)
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures = {"points": args.points, "columns": 5,
               "whole_over_http": figure(whole, len(text)),
               "last_100_over_http": figure(tail, len(tail_text)),
               "whole_in_process": figure(local, len(body))}
    report(figures)
    save("job_view", figures)
    return 0


def report(figures: dict[str, Any]) -> None:
    print(f"data route, {figures['points']:,} points x {figures['columns']} columns + fit:")
    for label, target in (("whole_over_http", "well under 1 s"),
                          ("last_100_over_http", "< 20 ms"),
                          ("whole_in_process", "its jobmagics part")):
        f = figures[label]
        print(f"  {label:<20} p50 {f['p50_ms']:>7} ms  max {f['max_ms']:>7} ms"
              f"  {f['bytes']:>10,} bytes  ({target})")


if __name__ == "__main__":
    sys.exit(main())
