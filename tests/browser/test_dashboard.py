"""The sidebar as the lab's dashboard, in real Chromium against a real JupyterLab, queue and
worker (2 slots, serving `hardware`): a header per resource with who holds it and whether it
is paused, pause/resume from the sidebar for the queue's manager (the lab server runs as root,
the queue folder's owner), the live workers, the warning about a resource no worker serves,
what runs next, and each row's buttons enabled exactly when the server says the user may.
Screenshots of each go to tests/browser/artifacts/."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from tests.accounts import as_account

from .conftest import (
    ARTIFACTS,
    BIN,
    OTHER_USER,
    TOKEN,
    LabServer,
    Worker,
    cli,
    open_jobs_panel,
    submit_as_other_user,
)


@pytest.fixture(scope="module")
def gpu_known(lab_queue: Path, lab_home: Path) -> str:
    """The queue knows a resource `gpu` that no live worker serves: a worker serving it
    registered it once and stopped."""
    Worker(lab_queue, lab_home / "gpu-worker.log", "--slots", "1", "--resource", "gpu",
           "--no-kernel").stop()
    return "gpu"


def resource_text(page: Any, name: str) -> Any:
    return page.locator(f'.jm-dashboard .jm-resource[data-resource="{name}"] .jm-resource-text')


def row(page: Any, job_id: str) -> Any:
    return page.locator(f'.jm-JobsPanel li[data-job-id="{job_id}"]')


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jm-JobsPanel").screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"))


def test_the_resource_header_shows_the_running_job_and_active(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    q = jobmagics.Queue(lab_queue)
    job = q.submit(["sleep", "120"], name="rabi", resources=["hardware"])
    try:
        header = resource_text(lab_page, "hardware")
        header.filter(has_text=f"hardware: running {job.id} rabi ({q.user}), 0 waiting · active"
                      ).wait_for(timeout=30_000)
        queue_line = lab_page.locator('.jm-dashboard [data-role="queue-state"]')
        assert queue_line.inner_text().startswith("Queue: 1 running")
        assert "· active" in queue_line.inner_text()
        shot(lab_page, "resource-header")
    finally:
        job.cancel()


def test_pausing_a_resource_from_the_sidebar_shows_paused_and_starts_nothing_new(
        lab_page: Any, lab_queue: Path, lab_worker: Any) -> None:
    q = jobmagics.Queue(lab_queue)
    header = lab_page.locator('.jm-dashboard .jm-resource[data-resource="hardware"]')
    header.wait_for(timeout=15_000)
    pause = header.locator("button[data-pause]")
    assert pause.inner_text() == "Pause"
    assert pause.is_enabled()
    pause.click()
    header.locator(".jm-resource-text", has_text="· paused").wait_for(timeout=10_000)
    assert header.get_attribute("data-paused") == "1"
    try:
        held_back = q.submit(["true"], name="needs-hardware", resources=["hardware"])
        after = q.submit(["true"], name="sentinel")        # submitted later, needs nothing
        after.wait(timeout=30)                              # the worker looked, and ran this one
        assert held_back.refresh().state.value == "pending"
        resource_text(lab_page, "hardware").filter(has_text="1 waiting · paused").wait_for(
            timeout=10_000)
        shot(lab_page, "paused")
        header.locator('button[data-action="resume"]').click()
        header.locator(".jm-resource-text", has_text="· active").wait_for(timeout=10_000)
        held_back.wait(timeout=30)
        assert held_back.refresh().state.value == "completed"
    finally:
        q.resume("hardware")


def test_the_workers_list_shows_the_live_worker_with_its_host(
        lab_page: Any, lab_worker: Any) -> None:
    host = socket.gethostname()
    worker = lab_page.locator(f'.jm-dashboard .jm-worker[data-alive="1"][data-host="{host}"]')
    worker.first.wait_for(timeout=15_000)
    text = worker.first.inner_text()
    assert text.startswith(f"{host} · ")
    assert "/2 slots · hardware · " in text
    assert text.endswith((" ago", "just now"))
    title = lab_page.locator('[data-role="workers-title"]').text_content() or ""
    assert title.startswith("Workers (")
    shot(lab_page, "workers")


def test_a_pending_job_needing_an_unserved_resource_shows_the_warning(
        lab_page: Any, lab_queue: Path, lab_worker: Any, gpu_known: str) -> None:
    q = jobmagics.Queue(lab_queue)
    job = q.submit(["true"], name="wants-gpu", resources=["gpu"])
    try:
        warning = lab_page.locator(".jm-dashboard .jm-warning",
                                   has_text="No live worker serves gpu: 1 pending job needs it")
        warning.wait_for(timeout=15_000)
        nxt = lab_page.locator(f'.jm-dashboard [data-role="next"] li[data-next-id="{job.id}"]')
        nxt.wait_for(timeout=10_000)
        assert nxt.inner_text().startswith(f"{job.id} wants-gpu ({q.user})")
        shot(lab_page, "warning")
    finally:
        job.cancel()
    lab_page.locator(".jm-dashboard .jm-warning", has_text="serves gpu").wait_for(
        state="detached", timeout=15_000)


def test_row_buttons_are_enabled_for_my_jobs_and_disabled_for_another_users(
        lab_page: Any, lab_queue: Path, lab_group: Any, gpu_known: str) -> None:
    theirs = submit_as_other_user(lab_group, lab_queue, command=["true"], name="alices",
                                  resources=["gpu"])
    mine = cli(lab_queue, "submit", "--name", "mine", "--resource", "gpu", "--", "true")
    try:
        cancel = row(lab_page, theirs).locator('button[data-action="cancel"]')
        cancel.wait_for(timeout=15_000)
        assert cancel.is_disabled()
        assert cancel.get_attribute("title") == "Only jmtest_alice or a queue admin may cancel it"
        assert row(lab_page, theirs).locator('button[data-action="hold"]').is_disabled()
        assert row(lab_page, mine).locator('button[data-action="cancel"]').is_enabled()
        hold = row(lab_page, mine).locator('button[data-action="hold"]')
        assert hold.is_enabled()
        shot(lab_page, "row-actions")
        hold.click()
        release = lab_page.locator(f'.jm-JobsPanel li[data-job-id="{mine}"][data-state="waiting"]'
                                   ' button[data-action="release"]:not([disabled])')
        release.wait_for(timeout=10_000)
        assert jobmagics.Queue(lab_queue).get(mine).record.held
        release.click()
        lab_page.locator(f'.jm-JobsPanel li[data-job-id="{mine}"][data-state="pending"]').wait_for(
            timeout=10_000)
        assert lab_page.locator(".jm-JobView").count() == 0        # the clicks opened nothing
    finally:
        cli(lab_queue, "cancel", mine)
        q = jobmagics.Queue(lab_queue)
        q.add_admin(q.user)
        try:
            q.cancel(theirs)
        finally:
            q.remove_admin(q.user)


class AccountLabServer(LabServer):
    """A real `jupyter lab` run as another Unix account (``runuser``, with the runtime other
    accounts can read: ``tests.accounts``), on the same queue: a lab member who is no admin."""

    def __init__(self, home: Path, queue: Path, user: str) -> None:
        super().__init__(home, queue)
        self.user = user
        subprocess.run(["chown", "-R", user, str(home)], check=True)

    def start(self, timeout: float = 90.0) -> None:
        share = BIN.parent / "share" / "jupyter"          # JupyterLab's assets, our labextension
        env = {"HOME": str(self.home), "JUPYTER_PATH": str(share),
               "JUPYTERLAB_SETTINGS_DIR": str(self.home / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
               "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
               "JOBMAGICS_QUEUE": str(self.queue)}
        argv = as_account(
            self.user, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", "--port",
            str(self.port), "--port-retries", "0", f"--IdentityProvider.token={TOKEN}",
            "--LabApp.news_url=None", f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.app_dir={share / 'lab'}",
            "--ServerApp.jpserver_extensions={'jobmagics.server': True}", env=env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.root_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab as {self.user} exited:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={TOKEN}", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"jupyter lab as {self.user} did not answer:\n{self.output()}")


def test_a_member_who_is_no_admin_is_not_offered_pause_and_is_refused_with_the_reason(
        chromium: Any, lab_queue: Path, lab_group: Any, lab_worker: Any) -> None:
    if lab_group is None:
        pytest.fail("this test needs a second Unix user: run the suite as root")
    server = AccountLabServer(Path(tempfile.mkdtemp(prefix="jobmagics-lab-member-")),
                              lab_queue, OTHER_USER)
    server.start()
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/lab?reset&token={TOKEN}")
        open_jobs_panel(page)
        page.locator(".jm-who", has_text=OTHER_USER).wait_for(timeout=10_000)
        pause = page.locator(
            '.jm-dashboard .jm-resource[data-resource="hardware"] button[data-pause]')
        pause.wait_for(timeout=15_000)
        assert pause.is_disabled()
        assert pause.get_attribute("title") == "Only a queue admin may pause hardware"
        queue_pause = page.locator('.jm-dashboard [data-role="queue-state"] button[data-pause]')
        assert queue_pause.is_disabled()
        shot(page, "member-no-pause")
        status, answer = page.evaluate(
            """async token => {
              const r = await fetch('/jobmagics/api/resources/hardware/pause',
                {method: 'POST', body: '{}', headers: {Authorization: 'token ' + token}});
              return [r.status, await r.text()];
            }""", TOKEN)
        assert status == 403, answer
        assert f"{OTHER_USER} may not pause" in json.loads(answer)["error"]
        assert not jobmagics.Queue(lab_queue).stats()["resources"]["hardware"]["paused"]
    finally:
        context.close()
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)
