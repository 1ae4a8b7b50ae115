"""`python bench/bench_job_view_page.py`: JupyterLab's job view in real Chromium against a
real `jupyter lab`, queue and worker (issue 13).

1. Opening the view of a finished experiment of ``--points`` points (default 20,000: the data
   route answers up to 100,000 at once, but the Rabi fit of 100,000 points takes minutes): ms
   from the click on its row in the sidebar to the plot in the DOM holding every point and the
   fit (p50 of ``--opens``), and the longest task of the page meanwhile (the SVG's drawing).
2. Following a live run (Rabi, ``--live-points`` points arriving five at a time, about 0.5 s
   apart): the data requests the view made and the bytes they carried, against one answer
   with every point (what each request would carry if the view asked for all of it).

Printed and merged into bench/results.json under "job_view_page".

    python bench/bench_job_view_page.py [--points 20000] [--opens 5] [--live-points 60]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from results import save

import jobmagics
from kernel_worker import spawn
from tests.browser.conftest import CHROMIUM, TOKEN, LabServer, open_jobs_panel

RABI = "jobmagics.experiments:Rabi"

# Clicks the job's row and answers [ms until the plot holds `points` points and the fit, the
# longest task meanwhile].
OPEN = """
([id, points]) => new Promise(resolve => {
  const tasks = [];
  const observer = new PerformanceObserver(
    l => l.getEntries().forEach(e => tasks.push(e.duration)));
  observer.observe({ type: 'longtask' });
  const t0 = performance.now();
  const selector = `.jm-JobView[data-job-id="${id}"] ` +
    `svg.jm-plot[data-points="${points}"][data-fit="true"]`;
  const done = () => {
    if (!document.querySelector(selector)) { return false; }
    const ms = performance.now() - t0;
    setTimeout(() => { observer.disconnect(); resolve([ms, Math.max(0, ...tasks)]); }, 200);
    return true;
  };
  const obs = new MutationObserver(() => { if (done()) obs.disconnect(); });
  obs.observe(document.body, { childList: true, subtree: true, attributes: true });
  document.querySelector(`.jm-JobsPanel li[data-job-id="${id}"] .jm-name`).click();
})
"""


def run_to_end(q: jobmagics.Queue, config: dict[str, Any], name: str) -> jobmagics.Job:
    job = q.submit(experiment=RABI, config=config, name=name)
    job.wait(timeout=300)
    assert job.refresh().state.value == "completed", job.record.error
    return job


def open_times(browser: Any, url: str, job_id: str, points: int, opens: int) -> dict[str, Any]:
    times, tasks = [], []
    for _ in range(opens):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(f"{url}/lab?reset&token={TOKEN}")
        open_jobs_panel(page)
        page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"] .jm-name').first.wait_for(
            timeout=30_000)
        ms, longest = page.evaluate(OPEN, [job_id, points])
        times.append(ms)
        tasks.append(longest)
        context.close()
    return {"open_ms": times, "open_p50_ms": statistics.median(times),
            "longest_task_p50_ms": statistics.median(tasks)}


def follow_live(browser: Any, url: str, q: jobmagics.Queue, points: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sizes: list[int] = []
    page.on("response", lambda r: sizes.append(len(r.body())) if "/data?" in r.url else None)
    page.goto(f"{url}/lab?reset&token={TOKEN}")
    open_jobs_panel(page)
    job = q.submit(experiment=RABI, name="live", config={
        "points": points, "reps": 50_000, "chunk": 5, "seed": 3})
    page.locator(f'.jm-JobsPanel li[data-job-id="{job.id}"] .jm-name').first.click()
    page.locator(f'.jm-JobView[data-job-id="{job.id}"] svg.jm-plot[data-points="{points}"]'
                 '[data-fit="true"]').wait_for(timeout=120_000)
    page.wait_for_timeout(500)
    context.close()
    with urllib.request.urlopen(
            f"{url}/jobmagics/api/jobs/{job.id}/data?offset=0&token={TOKEN}") as answer:
        whole = len(answer.read())
    return {"live_points": points, "live_requests": len(sizes), "live_bytes": sum(sizes),
            "whole_answer_bytes": whole,
            "bytes_if_each_asked_all": whole * len(sizes)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--opens", type=int, default=5)
    parser.add_argument("--live-points", type=int, default=60)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jm-bench-jobview-"))
    worker = None
    server = None
    try:
        q = jobmagics.Queue(home / "queue")
        worker = spawn(q.path, "--slots", "2", "--resource", "hardware", log=home / "worker.log",
                       cwd=ROOT)
        t0 = time.monotonic()
        big = run_to_end(q, {"points": args.points, "reps": 1, "chunk": 5_000, "seed": 1}, "big")
        print(f"a Rabi of {args.points:,} points ran in {time.monotonic() - t0:.1f} s")
        server = LabServer(home, q.path)
        server.start()
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            figures = open_times(browser, server.url, big.id, args.points, args.opens)
            figures |= follow_live(browser, server.url, q, args.live_points)
            browser.close()
    finally:
        if server is not None:
            server.stop()
        if worker is not None:
            worker.stop()
        shutil.rmtree(home, ignore_errors=True)
    figures["points"] = args.points
    print(json.dumps(figures, indent=2))
    print(f"open a finished run of {args.points:,} points: {figures['open_p50_ms']:.0f} ms p50 "
          f"(longest task {figures['longest_task_p50_ms']:.0f} ms)")
    print(f"live run of {args.live_points} points: {figures['live_requests']} data requests, "
          f"{figures['live_bytes']:,} bytes, against {figures['bytes_if_each_asked_all']:,} "
          f"if each asked for every point "
          f"({figures['bytes_if_each_asked_all'] / max(1, figures['live_bytes']):.1f}x)")
    save("job_view_page", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
