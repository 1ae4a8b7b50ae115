"""The sidebar's "Schedules" section, in real Chromium against a real JupyterLab and queue:
it lists a schedule with its rhythm and next run, and pauses, resumes and runs it."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from tests.accounts import OTHER_USER, as_account

from .conftest import ARTIFACTS, cli


def schedule_row(page: Any, name: str) -> Any:
    return page.locator(f'.jm-JobsPanel li.jm-schedule[data-schedule="{name}"]')


def test_the_sidebar_lists_a_schedule_with_its_next_run_and_pauses_it(
        lab_page: Any, lab_queue: Path) -> None:
    section = lab_page.locator('.jm-JobsPanel [data-role="schedules"]')
    assert not section.is_visible()                    # no schedules: no section
    cli(lab_queue, "schedule", "add", "nightly-fit", "--every", "1h", "--", "true")
    row = schedule_row(lab_page, "nightly-fit")
    row.wait_for(timeout=10_000)
    assert section.is_visible()
    assert "every 1h" in row.locator(".jm-rhythm").inner_text()
    next_run = row.locator('[data-role="next-run"]')
    assert "in 59m" in next_run.inner_text() or "in 1h" in next_run.inner_text()
    assert row.locator(".jm-last").inner_text() == "no run yet"
    assert next_run.inner_text().startswith("next ")
    ARTIFACTS.mkdir(exist_ok=True)
    lab_page.locator(".jm-JobsPanel").screenshot(path=str(ARTIFACTS / "schedules.png"))

    q = jobmagics.Queue(lab_queue)
    row.locator('button[data-schedule-action="pause"]').click()
    next_run.filter(has_text="paused").wait_for(timeout=10_000)
    assert q.get_schedule("nightly-fit").paused
    row.locator('button[data-schedule-action="resume"]').click()
    next_run.filter(has_text="in ").wait_for(timeout=10_000)
    assert not q.get_schedule("nightly-fit").paused

    row.locator('button[data-schedule-action="run-now"]').click()
    row.locator(".jm-last").filter(has_text="last JOB-").wait_for(timeout=10_000)
    (job,) = q.get_schedule("nightly-fit").runs()
    assert job.id in row.locator(".jm-last").inner_text()
    assert lab_page.locator(".jm-JobView").count() == 0          # the clicks opened nothing
    cli(lab_queue, "cancel", job.id)
    cli(lab_queue, "schedule", "remove", "nightly-fit")
    section.wait_for(state="hidden", timeout=10_000)


def test_another_users_schedule_is_listed_without_its_buttons(
        lab_page: Any, lab_queue: Path, lab_group: str | None) -> None:
    if lab_group is None:
        pytest.fail(f"this test needs a second Unix user ({OTHER_USER}): run the suite as root")
    code = ("import sys, jobmagics; jobmagics.Queue(sys.argv[1]).schedule('alices', every='2h',"
            " command=['true'])")
    made = subprocess.run(as_account(OTHER_USER, "-c", code, str(lab_queue)), cwd="/",
                          capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    q = jobmagics.Queue(lab_queue)
    q.store.set_setting("admins", [])                  # the server's user is no admin here
    row = schedule_row(lab_page, "alices")
    row.wait_for(timeout=10_000)
    assert f"every 2h · {OTHER_USER}" in row.locator(".jm-rhythm").inner_text()
    assert row.locator("button:visible").count() == 0
    q.store.act_on_schedules("remove", ["alices"], q.user, manager=True)   # (clean up)
