"""Measure the Jobs panel's refresh latency: a job submitted through the Python API until
its row is in the panel's DOM (real jupyter lab + Chromium). Not a test (no timing
assertions in tests); run it by hand or from `make bench`:

    cd tests && ../.venv/bin/python -m browser.measure_latency
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

import jobmagics

from .conftest import CHROMIUM, TOKEN, LabServer, open_jobs_panel


def main() -> None:
    home = Path(tempfile.mkdtemp())
    queue = home / "queue"
    q = jobmagics.Queue(queue)
    server = LabServer(home, queue)
    t = time.monotonic()
    server.start()
    print(f"jupyter lab ready in {time.monotonic() - t:.1f} s")
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page()
            t = time.monotonic()
            page.goto(f"{server.url}/lab?reset&token={TOKEN}")
            open_jobs_panel(page)
            print(f"page + panel ready in {time.monotonic()-t:.1f} s")
            page.evaluate("""() => { window.__seen = {}; new MutationObserver(() => {
                document.querySelectorAll('.jm-JobsPanel li[data-job-id]').forEach(li => {
                  if (!(li.dataset.jobId in window.__seen)) window.__seen[li.dataset.jobId] = Date.now(); }); })
                .observe(document.querySelector('.jm-JobsPanel'), {subtree: true, childList: true}); }""")
            samples = []
            for _ in range(15):
                time.sleep(0.7)
                t0 = time.time() * 1000
                job = q.submit(["sleep", "100"])
                page.locator(f'li[data-job-id="{job.id}"]').wait_for(timeout=5000)
                seen = page.evaluate(f"window.__seen['{job.id}']")
                samples.append(seen - t0)
            print("submit -> row in DOM (ms):", [round(s) for s in samples])
            print(f"median {statistics.median(samples):.0f} ms, max {max(samples):.0f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
