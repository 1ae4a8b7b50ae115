"""A job shown live in real JupyterLab becomes its final card when it ends (the update sent from
the kernel's poller thread reaches the cell that showed it), and the notebook saved then and
reopened shows that card, not "Error displaying widget: model not found"."""
from __future__ import annotations

import json
from typing import Any

from .conftest import ARTIFACTS, TOKEN, cell, run_cell

SETUP = "%load_ext jobmagics\nimport jobmagics\nq = jobmagics.Queue()"
SHOW = "job = q.submit(command=['sh', '-c', 'sleep 4; echo the end'], name='saved'); job"
LATER = "print('another cell ran meanwhile')"


def test_a_live_job_ends_as_its_final_card_and_a_saved_notebook_reopens_with_it(
        lab_page: Any, lab_server: Any, lab_worker: Any) -> None:
    notebook = {"cells": [cell(SETUP, 0), cell(SHOW, 1), cell(LATER, 2)],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                            "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    path = lab_server.root_dir / "saved-live.ipynb"
    path.write_text(json.dumps(notebook))
    lab_page.goto(f"{lab_server.url}/lab/tree/saved-live.ipynb?token={TOKEN}")
    cells = lab_page.locator(".jp-Notebook .jp-CodeCell")
    cells.first.wait_for(timeout=60_000)
    lab_page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    run_cell(lab_page, 0)
    run_cell(lab_page, 1)
    cells.nth(1).locator(".jobmagics-job-widget").wait_for(timeout=60_000)
    run_cell(lab_page, 2)                     # the update comes while another cell is current
    final = cells.nth(1).locator(".jobmagics-final")
    final.wait_for(timeout=60_000)
    assert "completed" in final.inner_text() and "the end" in final.inner_text()
    assert cells.nth(1).locator(".jobmagics-job-widget").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    cells.nth(1).screenshot(path=str(ARTIFACTS / "live-job-final-card.png"))
    lab_page.keyboard.press("Control+s")
    lab_page.wait_for_function(
        "() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)
    saved = json.loads(path.read_text())
    outputs = saved["cells"][1]["outputs"]
    assert [o for o in outputs if "jobmagics-final" in str(o.get("data", {}).get("text/html"))]
    assert not [o for o in outputs
                if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    lab_page.goto(f"{lab_server.url}/lab/tree/saved-live.ipynb?token={TOKEN}")
    reopened = lab_page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".jobmagics-final")
    reopened.wait_for(timeout=60_000)
    assert lab_page.get_by_text("model not found").count() == 0
    lab_page.locator(".jp-NotebookPanel").first.screenshot(
        path=str(ARTIFACTS / "saved-notebook-reopened.png"))
