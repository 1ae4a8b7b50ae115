"""JupyterLab's notification when a job of mine ends: the server's one sentence, said once
(issue 13, item 6), whose "Show details" opens the job view. Real Chromium, JupyterLab, queue
and worker."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jobmagics

from .conftest import ARTIFACTS, cli


def toasts(page: Any, job_id: str) -> Any:
    return page.locator(".Toastify__toast", has_text=job_id)


def test_a_failed_jobs_notification_is_one_sentence_and_show_details_opens_its_view(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    job_id = cli(lab_queue, "submit", "--name", "fit", "--", "sh", "-c", "sleep 0.5; exit 3")
    toast = toasts(lab_page, job_id)
    toast.first.wait_for(timeout=30_000)
    message = toast.first.locator(".jp-toast-message").inner_text().strip()
    assert message == f"Job {job_id} (fit) failed: exit code 3", message
    assert toast.count() == 1                      # one notification, not one per refresh
    ARTIFACTS.mkdir(exist_ok=True)
    toast.first.screenshot(path=str(ARTIFACTS / "notification-failed.png"))
    toast.first.get_by_role("button", name="Show details").click()
    found = lab_page.locator(f'.jm-JobView[data-job-id="{job_id}"][data-state="failed"]')
    found.wait_for(timeout=10_000)
    found.locator('.jm-timeline-entry[data-state="failed"]').wait_for(timeout=10_000)
    lab_page.wait_for_timeout(1_500)               # a later refresh must not notify again
    assert toasts(lab_page, job_id).count() <= 1


def test_a_completed_jobs_notification_says_how_long_it_took(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    job = jobmagics.Queue(lab_queue).submit(command=["true"], name="quick")
    toast = toasts(lab_page, job.id)
    toast.first.wait_for(timeout=30_000)
    message = toast.first.locator(".jp-toast-message").inner_text().strip()
    assert message.startswith(f"Job {job.id} (quick) completed in "), message
    assert " of " not in message                   # my own job: not "of root"
