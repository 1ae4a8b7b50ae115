"""JupyterLab's job view in real Chromium against a real JupyterLab, queue and worker: the live
plot of an experiment (asked only from the points it has), its fit and summary, the submission
copied as Python, the state timeline, and a python job's outputs rendered as JupyterLab does."""
from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import jobmagics

from .conftest import ARTIFACTS

RABI = "jobmagics.experiments:Rabi"
# 0.1 s a point on the simulated station (reps x 200 us x time_scale 0.01), five points a chunk:
# about six seconds of points arriving half a second apart.
SLOW_RABI = {"points": 60, "reps": 50_000, "chunk": 5, "amplitude": 0.4, "seed": 7}


def view(page: Any, job_id: str) -> Any:
    return page.locator(f'.jm-JobView[data-job-id="{job_id}"]')


def open_job_view(page: Any, job_id: str) -> Any:
    """Open the job view by clicking the job's row in the sidebar (`jobmagics:open-job`)."""
    row = page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"] .jm-name')
    row.first.wait_for(timeout=30_000)
    row.first.click()
    found = view(page, job_id)
    found.wait_for(timeout=10_000)
    return found


def plotted_points(page: Any, job_id: str) -> int:
    return int(page.evaluate(
        """id => {
          const plot = document.querySelector(`.jm-JobView[data-job-id="${id}"] svg.jm-plot`);
          return plot ? Number(plot.dataset.points) : 0;
        }""", job_id))


def screenshot(page: Any, job_id: str, name: str, section: str = "") -> None:
    """The view as it shows now, with ``section`` (a selector in the view) scrolled into it."""
    ARTIFACTS.mkdir(exist_ok=True)
    if section:
        view(page, job_id).locator(section).first.scroll_into_view_if_needed()
    page.locator(f'.jp-MainAreaWidget:has(.jm-JobView[data-job-id="{job_id}"])').screenshot(
        path=str(ARTIFACTS / name))


def test_an_experiments_plot_gains_points_while_it_runs_then_shows_the_fit_and_summary(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    data_requests: list[str] = []
    lab_page.on("request", lambda r: data_requests.append(r.url) if "/data?" in r.url else None)
    q = jobmagics.Queue(lab_queue)
    job = q.submit(experiment=RABI, config=SLOW_RABI, name="rabi-live")
    found = open_job_view(lab_page, job.id)
    seen: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        points = plotted_points(lab_page, job.id)
        if not seen or points != seen[-1]:
            seen.append(points)
            if 20 <= points < 60 and not (ARTIFACTS / "job-view-experiment-running.png").exists():
                screenshot(lab_page, job.id, "job-view-experiment-running.png", ".jm-measurement")
        if found.get_attribute("data-state") == "completed" and points == 60:
            break
        time.sleep(0.1)
    growing = [n for n in seen if 0 < n < 60]
    assert len(growing) >= 2, f"the plot did not grow while the job ran: {seen}"
    assert seen == sorted(seen), seen
    assert seen[-1] == 60, seen
    plot = found.locator("svg.jm-plot")
    found.locator('svg.jm-plot[data-fit="true"]').wait_for(timeout=30_000)
    assert plot.locator("path.jm-plot-fit").count() == 1
    assert plot.locator(".jm-plot-series .jm-plot-point").count() == 60
    assert "length (ns)" in plot.locator(".jm-plot-xlabel").text_content()
    assert plot.locator(".jm-plot-xtick").count() >= 3
    summary = found.locator('[data-role="summary"]')
    summary.wait_for(timeout=10_000)
    assert "rabi_frequency" in summary.inner_text() and "pi_pulse_length" in summary.inner_text()
    # Each request asked from the points already held (0 only until the first points came):
    # never the whole file again.
    offsets = [int(url.split("offset=")[1].split("&")[0]) for url in data_requests]
    assert offsets and offsets == sorted(offsets), offsets
    assert offsets[-1] == 60, offsets
    screenshot(lab_page, job.id, "job-view-experiment.png", ".jm-measurement")


def test_copy_as_submit_puts_the_experiment_and_its_config_on_the_clipboard_as_python(
        lab_page: Any, lab_server: Any, lab_queue: Path, lab_worker: Any) -> None:
    lab_page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                       origin=lab_server.url)
    q = jobmagics.Queue(lab_queue)
    job = q.submit(experiment=RABI, config={"points": 9, "amplitude": 0.3}, name="rabi-copy")
    found = open_job_view(lab_page, job.id)
    config = found.locator('[data-role="config"]')
    config.filter(has_text="amplitude").wait_for(timeout=30_000)
    assert "Experiment jobmagics.experiments:Rabi" in found.locator(
        '[data-role="experiment"]').inner_text()
    provenance = found.locator('[data-role="provenance"]')
    provenance.filter(has_text="Station config").wait_for(timeout=30_000)   # the run's snapshot
    assert "simulated, its defaults (no station config saved)" in provenance.inner_text()
    lab_page.bring_to_front()           # the Clipboard API writes only from a focused page
    found.locator('[data-role="copy-submission"]').click()
    # "Copied" shows for a few seconds; data-copied stays (a loaded machine may look late)
    section = found.locator(".jm-config")
    lab_page.wait_for_function(
        "el => el.dataset.copied === 'true' || el.querySelector('.jm-copy-status')"
        ".textContent.startsWith('Could not')", arg=section.element_handle(), timeout=20_000)
    status = section.locator('[data-role="copy-status"]').inner_text()
    assert section.get_attribute("data-copied") == "true", status
    text = lab_page.evaluate("navigator.clipboard.readText()")
    tree = ast.parse(text)              # valid Python
    call = tree.body[-1].value          # q.submit(...)
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "q.submit"
    keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert keywords["experiment"] == RABI
    assert keywords["config"]["amplitude"] == 0.3 and keywords["config"]["points"] == 9
    screenshot(lab_page, job.id, "job-view-submission.png", ".jm-config")


def test_the_timeline_lists_each_state_with_who_made_the_change(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    q = jobmagics.Queue(lab_queue)
    job = q.submit(command=["sleep", "0.5"], name="timeline", hold=True)
    q.release(job.id)
    job.wait(timeout=60)
    found = open_job_view(lab_page, job.id)
    found.locator('.jm-timeline-entry[data-state="completed"]').wait_for(timeout=10_000)
    entries = found.locator(".jm-timeline-entry")
    states = [entries.nth(i).get_attribute("data-state") for i in range(entries.count())]
    assert states == ["waiting", "pending", "running", "completed"], states
    assert entries.nth(0).get_attribute("data-who") == q.user          # submitted (held) by
    assert entries.nth(1).get_attribute("data-who") == q.user          # released by
    assert entries.nth(2).get_attribute("data-who") == job.refresh().record.worker
    assert found.locator(".jm-timeline-since").nth(3).inner_text().startswith("+")
    screenshot(lab_page, job.id, "job-view-timeline.png", ".jm-timeline")


# A 24 x 16 orange PNG, built without any image library.
PNG_CODE = """
import struct, zlib
from IPython.display import HTML, Image, display

def png(width, height):
    rows = b''.join(b'\\x00' + bytes([230, 120, 30]) * width for _ in range(height))
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows))
            + chunk(b'IEND', b''))
"""


def test_a_python_jobs_text_html_and_image_render_in_the_view_as_they_come(
        lab_page: Any, lab_queue: Path, lab_worker: Any, lab_home: Path) -> None:
    gate = lab_home / "gate-outputs"
    code = (PNG_CODE +
            "import os, time\n"
            "print('hello from the job', flush=True)\n"
            f"while not os.path.exists({str(gate)!r}):\n"
            "    time.sleep(0.05)\n"
            "display(HTML('<b class=\"from-the-job\">bold from the job</b>'))\n"
            "display(Image(data=png(24, 16)))\n")
    job = jobmagics.Queue(lab_queue).submit(code=code, name="outputs")
    found = open_job_view(lab_page, job.id)
    area = found.locator(".jm-outputs-area")
    area.filter(has_text="hello from the job").wait_for(timeout=60_000)
    assert area.locator("img").count() == 0          # not displayed yet: the job waits
    gate.touch()
    area.locator("img").wait_for(timeout=30_000)
    assert area.locator("b.from-the-job").inner_text() == "bold from the job"
    src = area.locator("img").get_attribute("src") or ""
    assert src.startswith("data:image/png;base64,")
    lab_page.locator(f'.jm-JobView[data-job-id="{job.id}"][data-state="completed"]').wait_for(
        timeout=30_000)
    screenshot(lab_page, job.id, "job-view-outputs.png", ".jm-outputs")


def test_a_python_jobs_error_shows_its_traceback(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    code = "def inner():\n    return 1 / 0\n\ninner()\n"
    job = jobmagics.Queue(lab_queue).submit(code=code, name="error")
    found = open_job_view(lab_page, job.id)
    error = found.locator(".jm-outputs-area .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
    error.filter(has_text="ZeroDivisionError").wait_for(timeout=60_000)
    text = error.inner_text()
    assert "inner()" in text and "1 / 0" in text, text
    screenshot(lab_page, job.id, "job-view-error.png", ".jm-outputs")
