"""Arrays in the "Jobs" sidebar, in real Chromium against a real JupyterLab, queue and worker:
an array is one row with its counts per state; expanding it lists its elements (100 at a
time, "more" for the rest); cancel and retry on the row act on the whole array; the history
and the state filters show arrays as rows, never their elements one by one; an array of mine
that ends is one notification, whose "Show" brings its row into view. (Its own
JupyterLab and queue: module-scoped fixtures.)"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jobmagics
from tests.conftest import wait_for

from .conftest import ARTIFACTS, TOKEN

SLEEP = ["sleep", "120"]


def array_row(page: Any, array_id: str, role: str = "array-list") -> Any:
    return page.locator(f'.jm-JobsPanel [data-role="{role}"] li[data-array-id="{array_id}"]')


def segment(row: Any, state: str) -> Any:
    return row.locator(f'[data-role="stack"] .jm-segment[data-state="{state}"]')


def elements(row: Any) -> Any:
    return row.locator('[data-role="elements"] li[data-job-id]')


def test_an_array_is_one_row_with_its_counts_that_expands_to_its_elements_and_cancels(
        lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    plain = q.submit(SLEEP, name="plain", hold=True)
    array = q.submit_array(SLEEP, items=range(4), parallel=2, name="sweep")
    row = array_row(lab_page, array.id)
    row.wait_for(timeout=15_000)
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{plain.id}"]').wait_for(timeout=5_000)
    assert lab_page.locator(f'.jm-JobsPanel li[data-job-id^="{array.id}_"]').count() == 0
    assert row.get_attribute("data-state") == "pending"
    assert row.locator(".jm-name").inner_text() == "sweep [4]"
    assert row.locator(".jm-id").inner_text() == array.id
    assert segment(row, "pending").get_attribute("data-count") == "2"
    assert segment(row, "waiting").get_attribute("data-count") == "2"
    assert row.locator('[data-role="array-progress"]').inner_text() == "0/4 ended"
    assert lab_page.locator(".jm-section-title", has_text="Queue").first.text_content() == "Queue (1 + 1 array)"

    row.locator(".jm-array-head .jm-name").click()
    elements(row).nth(3).wait_for(timeout=10_000)
    assert [elements(row).nth(i).get_attribute("data-job-id") for i in range(4)] == [
        f"{array.id}_{i}" for i in range(4)]
    assert [elements(row).nth(i).get_attribute("data-state") for i in range(4)] == [
        "pending", "pending", "waiting", "waiting"]
    assert row.get_attribute("aria-expanded") == "true"
    q.apply("cancel", [f"{array.id}_0"])        # the expanded list follows the queue
    row.locator(f'li[data-job-id="{array.id}_0"][data-state="cancelled"]').wait_for(
        timeout=10_000)
    segment(row, "cancelled").wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "array-row.png"
    lab_page.locator(".jm-JobsPanel").screenshot(path=str(shot))
    assert shot.stat().st_size > 1000

    row.locator('[data-array-action="cancel"]').click()
    finished = array_row(lab_page, array.id, "finished-array-list")
    lab_page.locator(f'.jm-JobsPanel [data-role="finished-array-list"]'
                     f' li[data-array-id="{array.id}"][data-state="cancelled"]').wait_for(
        timeout=15_000)
    assert array.refresh().counts["cancelled"] == 4
    assert array_row(lab_page, array.id).count() == 0
    assert segment(finished, "cancelled").get_attribute("data-count") == "4"
    assert finished.locator('[data-array-action="retry"]').is_visible()
    assert finished.locator('[data-array-action="cancel"]').is_hidden()
    q.cancel(plain.id)


def test_an_array_lists_its_elements_a_hundred_at_a_time(lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    array = q.submit_array(SLEEP, items=range(230), hold=True, name="big")
    row = array_row(lab_page, array.id)
    row.wait_for(timeout=15_000)
    assert segment(row, "waiting").get_attribute("data-count") == "230"
    row.locator(".jm-array-head .jm-name").click()
    more = row.locator('[data-role="more-elements"]')
    more.wait_for(timeout=10_000)
    assert elements(row).count() == 100
    assert more.inner_text() == "Show 100 more (130 not shown)"
    more.click()
    row.locator('[data-role="more-elements"]', has_text="30 more").wait_for(timeout=10_000)
    assert elements(row).count() == 200
    row.locator('[data-role="more-elements"]').click()
    elements(row).nth(229).wait_for(timeout=10_000)
    assert elements(row).nth(229).get_attribute("data-job-id") == f"{array.id}_229"
    assert row.locator('[data-role="more-elements"]').count() == 0
    row.locator(".jm-array-head .jm-name").click()       # collapsed again
    row.locator('[data-role="elements"]').wait_for(state="hidden", timeout=5_000)
    assert row.get_attribute("aria-expanded") == "false"
    array.cancel()


def test_an_array_run_by_a_worker_ends_with_its_counts_and_retries_its_failures(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    q = jobmagics.Queue(lab_queue)
    array = q.submit_array(["sh", "-c", "sleep 0.3; test {index} != 1"], items=range(3),
                           parallel=2, name="mixed")
    finished = lab_page.locator(f'.jm-JobsPanel [data-role="finished-array-list"]'
                                f' li[data-array-id="{array.id}"][data-state="failed"]')
    finished.wait_for(timeout=60_000)
    assert segment(finished, "completed").get_attribute("data-count") == "2"
    assert segment(finished, "failed").get_attribute("data-count") == "1"
    assert finished.locator('[data-role="array-progress"]').inner_text() == "3/3 ended"
    assert finished.locator(".jm-time").inner_text().startswith("ran ")
    finished.locator('[data-array-action="retry"]').click()
    wait_for(lambda: array.element(1).attempt == 2, timeout=30)
    array.wait(60)
    assert array.element(1).attempt == 2 and array.element(0).attempt == 1
    lab_page.locator(f'.jm-JobsPanel [data-role="finished-array-list"]'
                     f' li[data-array-id="{array.id}"][data-state="failed"]').wait_for(
        timeout=30_000)


def test_the_recent_history_shows_a_finished_array_as_one_row_not_its_elements(
        lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    before = q.submit(SLEEP, name="before")
    before.cancel()
    array = q.submit_array(SLEEP, items=range(60), name="sixty")
    array.cancel()
    after = q.submit(SLEEP, name="after")
    after.cancel()
    history = lab_page.locator('.jm-JobsPanel [data-role="history-list"]')
    history.locator(f'li[data-job-id="{after.id}"]').wait_for(timeout=15_000)
    finished = array_row(lab_page, array.id, "finished-array-list")
    finished.wait_for(timeout=5_000)
    assert segment(finished, "cancelled").get_attribute("data-count") == "60"
    # the jobs on either side of the array follow each other in the history
    ids = [history.locator("li[data-job-id]").nth(i).get_attribute("data-job-id")
           for i in range(2)]
    assert ids == [after.id, before.id]
    assert lab_page.locator(f'.jm-JobsPanel li[data-job-id^="{array.id}_"]').count() == 0


def test_a_state_filter_shows_arrays_as_rows_that_expand_to_their_elements_in_that_state(
        lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    array = q.submit_array(SLEEP, items=range(5), hold=True, name="filtered")
    q.apply("cancel", [f"{array.id}_1", f"{array.id}_3"])
    array_row(lab_page, array.id).wait_for(timeout=15_000)
    lab_page.locator('[data-role="state-filter"]').select_option("cancelled")
    row = array_row(lab_page, array.id, "finished-array-list")
    row.wait_for(timeout=10_000)
    assert lab_page.locator(f'.jm-JobsPanel li[data-job-id^="{array.id}_"]').count() == 0
    row.locator(".jm-array-head .jm-name").click()
    elements(row).nth(1).wait_for(timeout=10_000)
    assert [elements(row).nth(i).get_attribute("data-job-id") for i in range(2)] == [
        f"{array.id}_1", f"{array.id}_3"]
    lab_page.locator('[data-role="state-filter"]').select_option("waiting")
    row = array_row(lab_page, array.id)
    row.wait_for(timeout=10_000)
    row.locator(".jm-array-head .jm-name").click()
    elements(row).nth(2).wait_for(timeout=10_000)
    assert [elements(row).nth(i).get_attribute("data-state") for i in range(3)] == [
        "waiting"] * 3
    assert elements(row).count() == 3
    array.cancel()


def toast(page: Any, text: str) -> Any:
    return page.locator(".Toastify__toast", has_text=text)


def test_my_array_ending_raises_one_notification_whose_show_reveals_its_row(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    q = jobmagics.Queue(lab_queue)
    lab_page.locator('[data-role="state-filter"]').select_option("active")
    fine = q.submit_array(["true"], items=range(3), name="all-fine")
    mixed = q.submit_array(["sh", "-c", "test {index} != 1"], items=range(4), name="one-bad")
    toast(lab_page, f"Array {fine.id} (all-fine) completed: 3 completed").wait_for(
        timeout=60_000)
    failed = toast(lab_page, f"Array {mixed.id} (one-bad) failed: 1 failed, 3 completed")
    failed.wait_for(timeout=60_000)
    # one notification per array, none per element
    assert toast(lab_page, f"{mixed.id}_").count() == 0
    assert toast(lab_page, f"{fine.id}_").count() == 0
    assert toast(lab_page, mixed.id).count() == 1
    failed.get_by_role("button", name="Show", exact=True).click()
    row = array_row(lab_page, mixed.id, "finished-array-list")
    row.wait_for(timeout=15_000)
    assert lab_page.locator('[data-role="state-filter"]').input_value() == "all"
    lab_page.locator(f'.jm-JobsPanel [data-role="finished-array-list"]'
                     f' li[data-array-id="{mixed.id}"][aria-expanded="true"]').wait_for(
        timeout=10_000)
    elements(row).nth(3).wait_for(timeout=10_000)
    assert "jm-mod-flash" in (row.get_attribute("class") or "")
    assert row.is_visible()


def test_the_array_widget_renders_in_a_notebook_and_its_cancel_button_acts(
        lab_page: Any, lab_server: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    array = q.submit_array(SLEEP, items=range(3), hold=True, name="in-notebook")
    source = ("import jobmagics\nfrom jobmagics.widgets import ArrayWidget\n"
              f"ArrayWidget(jobmagics.Queue().array({array.id!r}))")
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}
    (lab_server.root_dir / "array-widget.ipynb").write_text(json.dumps(notebook))
    lab_page.goto(f"{lab_server.url}/lab/tree/array-widget.ipynb?token={TOKEN}")
    cell = lab_page.locator(".jp-Notebook .jp-CodeCell").first
    cell.wait_for(timeout=60_000)
    lab_page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)  # kernel up
    cell.locator(".jp-InputArea-editor").click()
    lab_page.keyboard.press("Shift+Enter")
    widget = lab_page.locator(".jobmagics-array-widget")
    widget.wait_for(timeout=90_000)
    assert array.id in widget.inner_text() and "in-notebook" in widget.inner_text()
    bar = widget.locator(".jobmagics-counts-bar .jobmagics-count-waiting")
    assert bar.get_attribute("title") == "3 waiting"
    widget.locator("button", has_text="Cancel all").click()
    widget.locator(".jobmagics-counts-bar .jobmagics-count-cancelled").wait_for(timeout=30_000)
    assert array.refresh().counts["cancelled"] == 3
    ARTIFACTS.mkdir(exist_ok=True)
    widget.screenshot(path=str(ARTIFACTS / "array-widget.png"))
