"""The sidebar at scale and under loss, in real Chromium: it lists every active job, with only
the rows in view in the DOM (a virtualised list, fetched as the user scrolls); a running job
whose worker died says so, in the warning style. (Its own JupyterLab and queue: module-scoped fixtures.)"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jobmagics

from .conftest import ARTIFACTS, Worker

PAGE = 100          # more jobs than a sidebar shows at once


def test_the_queue_lists_every_active_job_with_only_the_rows_in_view_in_the_dom(
        lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    jobs = q.submit_many([{"command": ["sleep", "60"], "name": f"held{i}", "hold": True}
                          for i in range(PAGE + 7)])
    rows = lab_page.locator('[data-role="active-list"] li[data-job-id]')
    try:
        lab_page.locator(f'[data-role="active-list"] li[data-job-id="{jobs[0].id}"]').wait_for(
            timeout=15_000)
        assert rows.first.get_attribute("data-job-id") == jobs[0].id      # start order
        assert lab_page.locator(".jm-section-title", has_text="Queue").first.text_content() == f"Queue ({PAGE + 7})"
        assert 0 < rows.count() < PAGE                   # virtualised: the rows in view only
        assert lab_page.locator('[data-role="active-list"] [data-role="more"]').count() == 0
        # Scrolled to the end of the list, its last job shows (its page fetched on the scroll).
        lab_page.locator(".jm-JobsPanel .jm-body").evaluate(
            """body => {
              const list = body.querySelector('[data-role="active-list"]');
              body.scrollTop += list.getBoundingClientRect().bottom
                - body.getBoundingClientRect().top - body.clientHeight;
            }""")
        lab_page.locator(f'[data-role="active-list"] li[data-job-id="{jobs[-1].id}"]').wait_for(
            timeout=15_000)
        assert rows.count() < PAGE
        lab_page.locator(".jm-JobsPanel").screenshot(path=str(ARTIFACTS / "queue-scrolled.png"))
    finally:
        q.apply("cancel", [j.id for j in jobs])
    # The history, read again while in view: scrolled to the bottom, it shows the cancelled jobs.
    lab_page.locator(".jm-JobsPanel .jm-body").evaluate("b => { b.scrollTop = b.scrollHeight; }")
    history_more = lab_page.locator('[data-role="history-list"] [data-role="more"]')
    history_more.wait_for(timeout=15_000)
    assert history_more.inner_text() == f"… and {PAGE + 7 - 50} more finished"
    lab_page.locator(".jm-JobsPanel .jm-section-title", has_text="Queue (0)").wait_for(
        timeout=15_000)


def test_a_running_job_whose_worker_died_says_since_when(
        lab_page: Any, lab_queue: Path, lab_home: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    worker = Worker(lab_queue, lab_home / "lost-worker.log", "--slots", "1", "--no-kernel")
    job = q.submit(["sleep", "120"], name="orphaned")
    row = lab_page.locator(f'.jm-JobsPanel li[data-job-id="{job.id}"][data-state="running"]')
    row.wait_for(timeout=30_000)
    worker.process.kill()
    worker.process.wait()
    try:
        lost = lab_page.locator(f'.jm-JobsPanel li.jm-mod-lost[data-job-id="{job.id}"]')
        lost.wait_for(timeout=15_000)
        assert re.fullmatch(r"running \(worker lost \d+ s ago\)", lost.locator(".jm-time").inner_text())
        assert "jm-state-lost" in (lost.locator(".jm-badge").get_attribute("class") or "")
    finally:      # the next worker recovers it: fails it ("worker lost"), ends its processes
        subprocess.run([sys.executable, "-m", "kernel_worker", "--queue", str(lab_queue), "--drain",
                        "--no-kernel"], capture_output=True, timeout=60, check=False)
    assert job.refresh().state.value == "failed"
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{job.id}"][data-state="failed"]').wait_for(
        timeout=15_000)


def test_a_bulk_cancel_of_my_jobs_raises_one_notification(lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    jobs = q.submit_many([{"command": ["sleep", "60"], "name": f"bulk{i}", "hold": True}
                          for i in range(12)])
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{jobs[-1].id}"]').wait_for(timeout=15_000)
    q.apply("cancel", [j.id for j in jobs])
    lab_page.locator(".Toastify__toast", has_text="12 of your jobs ended").wait_for(timeout=15_000)
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{jobs[-1].id}"][data-state="cancelled"]').wait_for(
        timeout=15_000)
    assert lab_page.locator(".Toastify__toast", has_text="was cancelled").count() == 0
