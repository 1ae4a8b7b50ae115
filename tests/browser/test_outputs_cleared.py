"""The outputs of live jobmagics widgets that the user clears (or re-runs away) are reported to
the notebook's kernel: `{"closed": [model_id, ...]}` on a comm with target `jobmagics.views`,
only for outputs marked live. Real JupyterLab and kernel in Chromium; the kernel side here is
a recording target registered by the notebook itself, so the test sees exactly what was sent."""
from __future__ import annotations

import json
from typing import Any

from .conftest import ARTIFACTS, TOKEN, cell, run_cell

RECORDER = """\
received = []
def _opened(comm, message):
    received.append(('open', message['content']['data']))
    comm.on_msg(lambda m: received.append(('msg', m['content']['data'])))
get_ipython().kernel.comm_manager.register_target('jobmagics.views', _opened)
"""

VIEWS = """\
from IPython.display import display
def view(model_id):
    return {'application/vnd.jupyter.widget-view+json':
            {'model_id': model_id, 'version_major': 2, 'version_minor': 0},
            'text/plain': f'view {model_id}'}
display(view('live-model-1'), raw=True, metadata={'jobmagics': {'live': True}})
display(view('plain-model-2'), raw=True)
"""

REPORT = "import json; print('RECEIVED', json.dumps(received))"


def test_clearing_or_rerunning_a_live_output_tells_the_kernel_which_views_closed(
        lab_page: Any, lab_server: Any) -> None:
    notebook = {"cells": [cell(RECORDER, 0), cell(VIEWS, 1), cell(REPORT, 2)],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                            "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lab_server.root_dir / "live-views.ipynb").write_text(json.dumps(notebook))
    lab_page.goto(f"{lab_server.url}/lab/tree/live-views.ipynb?token={TOKEN}")
    cells = lab_page.locator(".jp-Notebook .jp-CodeCell")
    cells.first.wait_for(timeout=60_000)
    lab_page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    run_cell(lab_page, 0)
    run_cell(lab_page, 1)
    views = cells.nth(1).locator(".jp-OutputArea-child")
    views.nth(1).wait_for(timeout=30_000)
    run_cell(lab_page, 1)                         # a re-run clears the cell's outputs first
    views.nth(1).wait_for(timeout=30_000)
    lab_page.locator(".lm-MenuBar-itemLabel", has_text="Edit").click()
    lab_page.locator(".lm-Menu-itemLabel", has_text="Clear Outputs of All Cells").click()
    lab_page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-OutputArea-child').length === 0")
    run_cell(lab_page, 2)
    report = cells.nth(2).locator(".jp-OutputArea-output", has_text="RECEIVED")
    report.wait_for(timeout=30_000)
    received = json.loads(report.inner_text().split("RECEIVED", 1)[1])
    assert received == [["open", {}],
                        ["msg", {"closed": ["live-model-1"]}],     # the re-run
                        ["msg", {"closed": ["live-model-1"]}]], received   # the clear
    ARTIFACTS.mkdir(exist_ok=True)
    lab_page.locator(".jp-NotebookPanel").first.screenshot(
        path=str(ARTIFACTS / "outputs-cleared-report.png"))


def test_a_kernel_without_the_target_is_asked_once_and_the_page_stays_quiet(
        lab_page: Any, lab_server: Any) -> None:
    notebook = {"cells": [cell(VIEWS, 0), cell("print('still fine')", 1)],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                            "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lab_server.root_dir / "no-target.ipynb").write_text(json.dumps(notebook))
    opens: list[bytes] = []

    def record(frame: str | bytes) -> None:     # the kernel protocol's frames are binary
        data = frame.encode() if isinstance(frame, str) else frame
        if b'"comm_open"' in data and b"jobmagics.views" in data:
            opens.append(data)

    lab_page.on("websocket", lambda ws: ws.on("framesent", record))
    lab_page.goto(f"{lab_server.url}/lab/tree/no-target.ipynb?token={TOKEN}")
    cells = lab_page.locator(".jp-Notebook .jp-CodeCell")
    cells.first.wait_for(timeout=60_000)
    lab_page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    for _ in range(3):                            # three re-runs: three clears of a live view
        run_cell(lab_page, 0)
        cells.nth(0).locator(".jp-OutputArea-child").nth(1).wait_for(timeout=30_000)
    run_cell(lab_page, 1)
    cells.nth(1).locator(".jp-OutputArea-output", has_text="still fine").wait_for(timeout=30_000)
    assert len(opens) == 1, opens                 # refused once: not asked again
