"""Browser tests: real Chromium (Debian's /usr/bin/chromium, driven by Python Playwright)
against a real `jupyter lab` started here, with a real queue and a real worker."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import jobmagics
from kernel_worker import spawn
from tests.accounts import OTHER_USER, ensure_lab_group, ensure_other_user, submit_as

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("JOBMAGICS_CHROMIUM", "/usr/bin/chromium")
BIN = Path(sys.executable).parent
TOKEN = "jobmagics-browser-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabServer:
    """A real `jupyter lab` process on a fixed port (so that it can be restarted)."""

    def __init__(self, home: Path, queue: Path, extra: list[str] | None = None) -> None:
        self.home = home
        self.queue = queue
        self.port = free_port()
        self.extra = extra or []
        self.root_dir = home / "notebooks"
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = home / "jupyter-lab.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_settings()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_settings(self) -> None:
        # No news / update toasts: the tests look at notifications.
        settings = self.home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    def start(self, timeout: float = 60.0) -> None:
        jupyter_lab = shutil.which("jupyter-lab", path=str(BIN)) or "jupyter-lab"
        env = dict(os.environ,
                   JUPYTERLAB_SETTINGS_DIR=str(self.home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
                   JOBMAGICS_QUEUE=str(self.queue),
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [jupyter_lab, "--no-browser", "--ip", "127.0.0.1", "--port", str(self.port),
                 "--port-retries", "0", f"--IdentityProvider.token={TOKEN}", "--allow-root",
                 "--LabApp.news_url=None", f"--ServerApp.root_dir={self.root_dir}", *self.extra],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={TOKEN}", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Worker:
    """A real worker on the lab's queue (``kernel_worker.spawn``), registered when returned."""

    def __init__(self, queue: Path, log: Path, *args: str) -> None:
        self.handle = spawn(queue, *args, log=log, cwd=ROOT)
        self.process = self.handle.process

    def stop(self) -> None:
        self.handle.stop()


def cli(queue: Path, *args: str) -> str:
    """Run the `jobmagics` CLI on the queue; returns its stdout (stripped)."""
    command = [sys.executable, "-m", "jobmagics", "--queue", str(queue), *args]
    if args and args[0] == "init":
        command = [sys.executable, "-m", "jobmagics", *args]
    result = subprocess.run(command,
                            capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert result.returncode == 0, f"jobmagics {' '.join(args)} failed: {result.stderr}"
    return result.stdout.strip()


@pytest.fixture(scope="module")
def lab_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="jobmagics-lab-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def lab_group() -> str | None:
    """A Unix group with a second real user in it (root only; None otherwise)."""
    group = ensure_lab_group()
    if group is not None:
        ensure_other_user(group)
    return group


@pytest.fixture(scope="module")
def lab_queue(lab_home: Path, lab_group: str | None) -> Path:
    """The queue of the lab, shared with the lab group the product's way when root."""
    path = lab_home / "queue"
    lab_home.chmod(0o755)
    if lab_group is None:
        jobmagics.Queue(path)
    else:
        cli(path, "init", str(path), "--group", lab_group)
    return path


def submit_as_other_user(lab_group: str | None, queue: Path, **spec: Any) -> str:
    if lab_group is None:
        pytest.fail(f"this test needs a second Unix user ({OTHER_USER}): run the suite as root")
    return submit_as(OTHER_USER, queue, **spec)


@pytest.fixture(scope="module")
def lab_worker(lab_queue: Path, lab_home: Path) -> Iterator[Worker]:
    """A real worker: 2 slots, serving the exclusive resource `hardware`."""
    worker = Worker(lab_queue, lab_home / "worker.log", "--slots", "2", "--resource", "hardware")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def lab_server(lab_home: Path, lab_queue: Path) -> Iterator[LabServer]:
    server = LabServer(lab_home, lab_queue)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Chromium, launched by Playwright. Missing browser = failure, never a skip.

    Module-scoped: Playwright's sync API keeps an asyncio loop running in this thread, which
    must be gone before other suites (pytest_jupyter, anyio) run their own loops."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (`apt-get install -y chromium "
                    "chromium-driver`) or point $JOBMAGICS_CHROMIUM at a Chromium binary")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def lab_page(chromium: Any, lab_server: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page with JupyterLab loaded and the Jobs panel open."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{lab_server.url}/lab?reset&token={TOKEN}")   # a fresh layout per test
    open_jobs_panel(page)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"))
    context.close()
    jobmagics_errors = [e for e in errors if "jobmagics" in e]
    assert not jobmagics_errors, f"uncaught errors in the page: {jobmagics_errors}"


def cell(source: str, index: int) -> dict[str, Any]:
    """A code cell of a notebook written by a test (``id`` c<index>)."""
    return {"cell_type": "code", "execution_count": None, "id": f"c{index}", "metadata": {},
            "outputs": [], "source": source}


def run_cell(page: Any, index: int) -> None:
    """Run the notebook's cell ``index`` as a user does (click it, Shift+Enter)."""
    page.locator(".jp-Notebook .jp-CodeCell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def open_jobs_panel(page: Any) -> None:
    """Show the Jobs panel (the left-bar tab toggles it, and the restored layout may
    already show it: click until it is visible)."""
    tab = page.locator('.jp-SideBar [data-id="jobmagics-jobs"]')
    tab.wait_for(timeout=60_000)
    panel = page.locator(".jm-JobsPanel")
    for _ in range(5):
        try:
            panel.wait_for(state="visible", timeout=1_000)
            break
        except PlaywrightTimeout:
            tab.click()
    panel.wait_for(state="visible", timeout=10_000)
    page.locator(".jm-who").filter(has_text=str(Path("/"))).wait_for(timeout=10_000)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
