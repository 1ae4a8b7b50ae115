"""The "Jobs" sidebar in real Chromium against a real JupyterLab, queue and worker."""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import jobmagics

from .conftest import (
    ARTIFACTS,
    OTHER_USER,
    TOKEN,
    LabServer,
    cli,
    open_jobs_panel,
    submit_as_other_user,
)

# Records, per job id, every state a row showed (MutationObserver on data-state).
RECORD_STATES = """
() => {
  window.__jmStates = {};
  const note = row => {
    const id = row.dataset.jobId, state = row.dataset.state;
    if (!id || !state) return;
    const seen = (window.__jmStates[id] = window.__jmStates[id] || []);
    if (seen[seen.length - 1] !== state) seen.push(state);
  };
  const panel = document.querySelector('.jm-JobsPanel');
  panel.querySelectorAll('li[data-job-id]').forEach(note);
  new MutationObserver(records => {
    for (const r of records) {
      const nodes = r.type === 'attributes' ? [r.target] : Array.from(r.addedNodes);
      for (const n of nodes) {
        if (n.nodeType === 1) {
          if (n.matches('li[data-job-id]')) note(n);
          n.querySelectorAll && n.querySelectorAll('li[data-job-id]').forEach(note);
        }
      }
    }
  }).observe(panel, { subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-state'] });
}
"""


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"]')


def wait_state(page: Any, job_id: str, state: str, timeout: float = 30_000) -> None:
    page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"][data-state="{state}"]').wait_for(
        timeout=timeout)


def python_command(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_the_jobs_panel_opens_from_the_left_bar(lab_page: Any, lab_queue: Path) -> None:
    panel = lab_page.locator(".jm-JobsPanel")
    assert panel.is_visible()
    assert str(lab_queue) in lab_page.locator(".jm-who").inner_text()
    assert lab_page.locator('.jm-JobsPanel [data-role="problem"]').is_hidden()
    assert lab_page.locator('.jm-JobsPanel [data-role="state-filter"]').is_visible()


def test_the_command_palette_offers_the_jobs_commands(lab_page: Any) -> None:
    lab_page.keyboard.press("Control+Shift+C")
    palette = lab_page.locator(".lm-CommandPalette")
    palette.locator("input").fill("Jobs")
    palette.locator(".lm-CommandPalette-item", has_text="Show Jobs Panel").wait_for(timeout=5_000)
    palette.locator(".lm-CommandPalette-item", has_text="Refresh Jobs").wait_for(timeout=5_000)
    palette.locator(".lm-CommandPalette-item", has_text="Show Jobs Panel").click()
    lab_page.locator(".jm-JobsPanel").wait_for(state="visible", timeout=5_000)


def test_another_users_job_cannot_be_cancelled_from_the_panel(
        lab_page: Any, lab_queue: Path, lab_group: Any) -> None:
    theirs = submit_as_other_user(lab_group, lab_queue, command=["sleep", "120"],
                                  hold=True, name="alices")
    row(lab_page, theirs).wait_for(timeout=5_000)
    assert row(lab_page, theirs).locator(".jm-user").inner_text() == OTHER_USER
    cancel = row(lab_page, theirs).locator('button[data-action="cancel"]')
    assert cancel.is_disabled()
    assert "Only jmtest_alice or a queue admin" in (cancel.get_attribute("title") or "")
    mine = cli(lab_queue, "submit", "--name", "mine", "--hold", "--", "sleep", "120")
    row(lab_page, mine).wait_for(timeout=5_000)
    assert row(lab_page, mine).locator('button[data-action="cancel"]').is_enabled()
    cli(lab_queue, "cancel", mine)
    q = jobmagics.Queue(lab_queue)
    q.add_admin(q.user)                 # root manages the queue; admins may act on any job
    try:
        lab_page.reload()
        open_jobs_panel(lab_page)
        enabled = row(lab_page, theirs).locator('button[data-action="cancel"]:not([disabled])')
        enabled.wait_for(timeout=10_000)
        enabled.click()
        wait_state(lab_page, theirs, "cancelled", timeout=10_000)
    finally:
        q.remove_admin(q.user)


def test_a_cli_job_appears_within_two_seconds_and_goes_pending_running_completed(
        lab_page: Any, lab_queue: Path, lab_worker: Any, lab_home: Path) -> None:
    lab_page.evaluate(RECORD_STATES)
    # A job holding the exclusive `hardware` resource keeps ours pending until we let it go.
    gate = lab_home / "gate-1"
    blocker = cli(lab_queue, "submit", "--name", "blocker", "--resource", "hardware", "--",
                  "sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done")
    code = ("import time, jobmagics\n"
            "for i in range(1, 4):\n"
            "    jobmagics.progress(i / 4, stage=f'step {i}/3')\n"
            "    print('step', i, flush=True)\n"
            "    time.sleep(0.6)\n")
    t0 = time.monotonic()
    job_id = cli(lab_queue, "submit", "--name", "stepper", "--resource", "hardware", "--",
                 *python_command(code))
    row(lab_page, job_id).wait_for(timeout=2_000)          # appears within two seconds
    appeared = time.monotonic() - t0
    wait_state(lab_page, job_id, "pending", timeout=5_000)
    assert row(lab_page, job_id).locator(".jm-badge").inner_text() == "pending"
    assert row(lab_page, job_id).locator(".jm-name").inner_text() == "stepper"

    gate.touch()
    wait_state(lab_page, job_id, "running")
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"] .jm-stage',
                     has_text="step").wait_for(timeout=10_000)
    wait_state(lab_page, job_id, "completed")
    assert row(lab_page, job_id).locator(".jm-badge").inner_text() == "completed"
    # The finished job moved to the history list.
    assert lab_page.locator(f'[data-role="history-list"] li[data-job-id="{job_id}"]').count() == 1
    seen = lab_page.evaluate(f"window.__jmStates['{job_id}']")
    assert seen == ["pending", "running", "completed"], seen
    assert jobmagics.Queue(lab_queue).get(blocker).state.value == "completed"
    (ARTIFACTS).mkdir(exist_ok=True)
    (ARTIFACTS / "latency.txt").write_text(
        f"CLI submit returned -> row visible in the panel: {appeared * 1000:.0f} ms\n")


def test_cancel_from_the_panel_cancels_a_running_job(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    job_id = cli(lab_queue, "submit", "--name", "long", "--", "sleep", "120")
    wait_state(lab_page, job_id, "running")
    cancel = row(lab_page, job_id).locator('button[data-action="cancel"]')
    assert cancel.is_enabled()
    cancel.click()
    wait_state(lab_page, job_id, "cancelled", timeout=15_000)
    job = jobmagics.Queue(lab_queue).get(job_id)
    assert job.state.value == "cancelled"
    # A cancelled job offers retry, not cancel.
    assert row(lab_page, job_id).locator('button[data-action="retry"]').is_enabled()
    assert row(lab_page, job_id).locator('button[data-action="cancel"]').is_hidden()


def test_the_log_view_shows_lines_as_they_are_written(
        lab_page: Any, lab_queue: Path, lab_worker: Any, lab_home: Path) -> None:
    gate = lab_home / "gate-log"
    job_id = cli(lab_queue, "submit", "--name", "talker", "--", "sh", "-c",
                 f"echo first line; while [ ! -e {gate} ]; do sleep 0.05; done; echo second line")
    wait_state(lab_page, job_id, "running")
    row(lab_page, job_id).locator(".jm-name").click()
    view = lab_page.locator(f'.jm-JobView[data-job-id="{job_id}"]')
    view.wait_for(timeout=10_000)
    log = view.locator('[data-role="log"]')
    log.filter(has_text="first line").wait_for(timeout=10_000)
    assert "second line" not in log.inner_text()
    assert view.get_attribute("data-state") == "running"
    gate.touch()
    log.filter(has_text="second line").wait_for(timeout=10_000)
    lab_page.locator(f'.jm-JobView[data-job-id="{job_id}"][data-state="completed"]').wait_for(
        timeout=10_000)
    assert log.inner_text() == "first line\nsecond line\n"
    ARTIFACTS.mkdir(exist_ok=True)
    lab_page.locator(f'.jp-MainAreaWidget:has(.jm-JobView[data-job-id="{job_id}"])').screenshot(
        path=str(ARTIFACTS / "job-view.png"))


def test_my_finished_job_raises_a_notification_that_opens_its_details(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    job_id = cli(lab_queue, "submit", "--name", "notify-me", "--", "sh", "-c", "sleep 1; exit 3")
    toast = lab_page.locator(".jp-toast-message, .Toastify__toast", has_text=job_id)
    toast.first.wait_for(timeout=30_000)
    assert "failed" in toast.first.inner_text()
    lab_page.locator(".Toastify__toast", has_text=job_id).get_by_role(
        "button", name="Show details").click()
    lab_page.locator(f'.jm-JobView[data-job-id="{job_id}"]').wait_for(timeout=10_000)


def test_the_panel_filters_by_state_and_mine(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    done = cli(lab_queue, "submit", "--name", "quick", "--", "true")
    wait_state(lab_page, done, "completed")
    lab_page.locator('[data-role="state-filter"]').select_option("completed")
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{done}"]').wait_for()
    lab_page.wait_for_function(
        "() => [...document.querySelectorAll('.jm-JobsPanel li[data-job-id]')]"
        ".every(li => li.dataset.state === 'completed')", timeout=10_000)
    lab_page.locator('[data-role="active-list"]').wait_for(state="hidden", timeout=5_000)
    lab_page.locator('[data-role="mine"]').check()
    lab_page.wait_for_function(
        "() => [...document.querySelectorAll('.jm-JobsPanel li[data-job-id]')].length > 0 && "
        "[...document.querySelectorAll('.jm-JobsPanel li[data-job-id]')]"
        ".every(li => li.classList.contains('jm-mod-mine'))", timeout=10_000)
    lab_page.locator('[data-role="mine"]').uncheck()
    lab_page.locator('[data-role="state-filter"]').select_option("all")
    lab_page.locator('[data-role="active-list"]').wait_for(state="visible", timeout=5_000)


def test_submit_cell_as_job_queues_the_cell_through_the_server(
        lab_page: Any, lab_server: LabServer, lab_queue: Path) -> None:
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": "print('from the notebook cell')"}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}
    (lab_server.root_dir / "submit-me.ipynb").write_text(json.dumps(notebook))
    lab_page.goto(f"{lab_server.url}/lab/tree/submit-me.ipynb?token={TOKEN}")
    cell = lab_page.locator(".jp-Notebook .jp-CodeCell").first
    cell.wait_for(timeout=60_000)
    cell.locator(".jp-InputPrompt").click(button="right")
    lab_page.locator(".lm-Menu-itemLabel", has_text="Submit Cell as Job").wait_for(
        timeout=5_000)
    lab_page.keyboard.press("Escape")
    cell.locator(".jp-InputPrompt").click()
    lab_page.locator(".jm-submit-cell-button button, button.jm-submit-cell-button").first.click()
    toast = lab_page.locator(".Toastify__toast", has_text="Submitted JOB-")
    toast.first.wait_for(timeout=15_000)
    job_id = toast.first.inner_text().split("Submitted ")[1].split()[0]
    job = jobmagics.Queue(lab_queue).get(job_id)
    assert job.kind == "python"
    assert job.record.code == "print('from the notebook cell')"
    assert job.name == "submit-me.ipynb cell 1"
    assert job.record.cwd == str(lab_server.root_dir.resolve())
    open_jobs_panel(lab_page)
    row(lab_page, job_id).wait_for(timeout=15_000)


def choose_theme(page: Any, theme: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Theme$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{theme}$")).click()


def test_screenshots_of_the_panel_are_saved_in_light_and_dark_themes(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    code = ("import time, jobmagics\n"
            "jobmagics.progress(0.4, stage='sweep 2/5')\n"
            "time.sleep(30)\n")
    running = cli(lab_queue, "submit", "--name", "sweep", "--", *python_command(code))
    wait_state(lab_page, running, "running")
    lab_page.locator(f'.jm-JobsPanel li[data-job-id="{running}"] .jm-stage',
                     has_text="sweep 2/5").wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    light = ARTIFACTS / "jobs-panel.png"
    lab_page.locator(".jm-JobsPanel").screenshot(path=str(light))
    choose_theme(lab_page, "JupyterLab Dark")
    lab_page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=20_000)
    time.sleep(0.5)
    dark = ARTIFACTS / "jobs-panel-dark.png"
    lab_page.locator(".jm-JobsPanel").screenshot(path=str(dark))
    background = lab_page.evaluate(
        "() => getComputedStyle(document.querySelector('.jm-JobsPanel')).backgroundColor")
    choose_theme(lab_page, "JupyterLab Light")
    lab_page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'",
                               timeout=20_000)
    cli(lab_queue, "cancel", running)
    assert light.stat().st_size > 1000 and dark.stat().st_size > 1000
    r, g, b = (int(v) for v in background[background.index("(") + 1:-1].split(",")[:3])
    assert r + g + b < 3 * 100, f"the panel did not follow the dark theme: {background}"


def test_the_panel_shows_the_truth_after_the_server_restarts(
        lab_page: Any, lab_server: LabServer, lab_queue: Path, lab_worker: Any,
        lab_home: Path) -> None:
    gate = lab_home / "gate-restart"
    job_id = cli(lab_queue, "submit", "--name", "survivor", "--", "sh", "-c",
                 f"while [ ! -e {gate} ]; do sleep 0.05; done; echo done")
    wait_state(lab_page, job_id, "running")
    lab_server.stop()
    problem = lab_page.locator('.jm-JobsPanel [data-role="problem"]')
    problem.wait_for(state="visible", timeout=20_000)
    # While the server is down, the job finishes and another one is submitted and cancelled.
    gate.touch()
    jobmagics.Queue(lab_queue).get(job_id).wait(timeout=30)
    later = cli(lab_queue, "submit", "--name", "while-down", "--hold", "--", "true")
    cli(lab_queue, "cancel", later)
    lab_server.start()
    problem.wait_for(state="hidden", timeout=30_000)
    wait_state(lab_page, job_id, "completed", timeout=20_000)
    wait_state(lab_page, later, "cancelled", timeout=20_000)


def test_a_missing_server_extension_is_explained_in_the_panel(
        chromium: Any, lab_queue: Path, tmp_path: Path) -> None:
    server = LabServer(tmp_path, lab_queue,
                       extra=["--ServerApp.jpserver_extensions={'jobmagics.server': False}"])
    server.start()
    try:
        context = chromium.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/lab?token={TOKEN}")
        tab = page.locator('.jp-SideBar [data-id="jobmagics-jobs"]')
        tab.wait_for(timeout=60_000)
        if not page.locator(".jm-JobsPanel").is_visible():
            tab.click()
        problem = page.locator('.jm-JobsPanel [data-role="problem"]')
        problem.wait_for(state="visible", timeout=20_000)
        assert "server extension is not running" in problem.inner_text()
        assert problem.get_attribute("data-kind") == "no-extension"
        context.close()
    finally:
        server.stop()


def test_holds_and_releases_reread_the_rows_but_not_the_history_and_an_ending_does(
        lab_page: Any, lab_queue: Path) -> None:
    q = jobmagics.Queue(lab_queue)
    job = q.submit(command=["sleep", "600"], cpus=64, name="never-fits")   # no worker claims it
    row = lab_page.locator(f'[data-role="active-list"] li[data-job-id="{job.id}"]')
    row.wait_for(timeout=20_000)
    lab_page.wait_for_timeout(1_000)                  # what the first refreshes read is past
    reads: list[str] = []
    lab_page.on("request", lambda r: reads.append(r.url.split("/jobmagics/api/")[1])
                if "/jobmagics/api/" in r.url else None)
    for action, state in [("hold", "waiting"), ("release", "pending")] * 3:
        q.apply(action, [job.id])
        lab_page.locator(f'[data-role="active-list"] li[data-job-id="{job.id}"]'
                         f'[data-state="{state}"]').wait_for(timeout=10_000)
    lab_page.wait_for_timeout(500)
    ended_reads = [r for r in reads if r.startswith("jobs?") and "cancelled" in r]
    # the rows followed each change: brought by the long poll's answer (or asked for)
    assert sum(r.startswith("queue") or (r.startswith("changes") and "include=queue" in r)
               for r in reads) >= 6, reads
    assert ended_reads == [] and not any(r.startswith("schedules") for r in reads), reads
    q.cancel(job.id)
    lab_page.locator(f'[data-role="history-list"] li[data-job-id="{job.id}"]'
                     '[data-state="cancelled"]').wait_for(timeout=10_000)
    assert row.count() == 0
    assert any(r.startswith("jobs?") and "cancelled" in r for r in reads), reads
