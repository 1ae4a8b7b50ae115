"""A row's edits in the real sidebar: "move to top" and the editable priority, in real
Chromium against a real JupyterLab and queue (no worker: the jobs stay pending)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jobmagics

from .conftest import ARTIFACTS, cli, submit_as_other_user


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"]')


def active_order(page: Any) -> list[str]:
    return list(page.evaluate(
        "() => Array.from(document.querySelectorAll("
        "'.jm-JobsPanel [data-role=\"active-list\"] li[data-job-id]')).map(r => r.dataset.jobId)"))


def wait_order(page: Any, expected: list[str]) -> None:
    page.wait_for_function(
        "expected => JSON.stringify(Array.from(document.querySelectorAll("
        "'.jm-JobsPanel [data-role=\"active-list\"] li[data-job-id]')).map(r => r.dataset.jobId)"
        ".filter(id => expected.includes(id))) === JSON.stringify(expected)",
        arg=expected, timeout=10_000)


def test_move_to_top_and_a_new_priority_from_the_sidebar(lab_page: Any, lab_queue: Path) -> None:
    a, b, c = (cli(lab_queue, "submit", "--name", name, "--", "true") for name in "abc")
    wait_order(lab_page, [a, b, c])
    row(lab_page, c).locator('button[data-edit="top"]').click()
    wait_order(lab_page, [c, a, b])
    q = jobmagics.Queue(lab_queue)
    assert q.events(c)[-1]["detail"] == f"{q.user} moved it to the top"
    assert lab_page.locator(".jm-JobView").count() == 0          # the click opened nothing

    priority = row(lab_page, b).locator('[data-edit="priority"]')
    assert priority.inner_text() == "P0"
    priority.click()
    editor = row(lab_page, b).locator("input.jm-priority-input")
    editor.fill("5")
    ARTIFACTS.mkdir(exist_ok=True)
    lab_page.locator(".jm-JobsPanel").screenshot(path=str(ARTIFACTS / "edit-priority.png"))
    editor.press("Enter")
    row(lab_page, b).locator('[data-edit="priority"]', has_text="P5").wait_for(timeout=10_000)
    wait_order(lab_page, [b, c, a])
    assert q.get(b).priority == 5
    assert q.events(b)[-1]["detail"] == f"{q.user} set priority 0 -> 5"
    assert lab_page.locator(".jm-JobView").count() == 0

    row(lab_page, a).locator('[data-edit="priority"]').click()       # Escape leaves it as it was
    row(lab_page, a).locator("input.jm-priority-input").press("Escape")
    assert row(lab_page, a).locator("input.jm-priority-input").count() == 0
    assert q.get(a).priority == 0
    lab_page.locator(".jm-JobsPanel").screenshot(path=str(ARTIFACTS / "edit-moved.png"))
    for job_id in (a, b, c):
        cli(lab_queue, "cancel", job_id)


def test_another_users_job_offers_no_edits(lab_page: Any, lab_queue: Path,
                                            lab_group: Any) -> None:
    theirs = submit_as_other_user(lab_group, lab_queue, command=["true"], name="alices")
    row(lab_page, theirs).wait_for(timeout=10_000)
    top = row(lab_page, theirs).locator('button[data-edit="top"]')
    assert top.is_disabled()
    assert "Only jmtest_alice or a queue admin" in (top.get_attribute("title") or "")
    row(lab_page, theirs).locator('[data-edit="priority"]').click()
    assert row(lab_page, theirs).locator("input.jm-priority-input").count() == 0
    assert jobmagics.Queue(lab_queue).get(theirs).priority == 0
