"""The REST door: a member starts their own Jupyter server (a real ``jupyter server`` process
running as them, with the jobmagics extension) and uses its REST API on another member's job.
The server acts as its account, so the service refuses what that account may not do."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from tests.accounts import as_account, submit_as
from tests.service.running import HELD, SECRET, Lab, snapshot

pytestmark = pytest.mark.usefixtures("service")

Call = Callable[..., tuple[int, Any]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def bobs_server(lab: Lab, system_queue: Path, queue_base: Path) -> Iterator[Call]:
    """``call(method, route, body=None) -> (status, json)`` on jmtest_bob's own server."""
    home = queue_base / "bob-home"
    home.mkdir()
    (home / "config").mkdir()
    config = {"ServerApp": {"jpserver_extensions": {"jobmagics.server": True}},
              "JobmagicsApp": {"queue": str(system_queue)}}     # the runtime holds no etc/jupyter
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
    shutil.chown(home, lab.bob)
    for path in home.rglob("*"):
        shutil.chown(path, lab.bob)
    token, port = secrets.token_hex(16), free_port()
    env = {"HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run")}
    argv = as_account(lab.bob, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1",
                      "--no-browser", f"--IdentityProvider.token={token}",
                      f"--ServerApp.root_dir={home}", env=env)
    log = queue_base / "jupyter.log"
    with log.open("wb") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd="/tmp")

    def call(method: str, route: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/jobmagics/api/{route}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {token}"})     # a token needs no XSRF cookie
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    try:
        _wait_until_it_answers(call, server, log)
        yield call
    finally:
        server.terminate()
        server.wait(30)
        print(f"---- jmtest_bob's jupyter server ----\n{log.read_text(errors='replace')}")


def _wait_until_it_answers(call: Call, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            status, who = call("GET", "whoami")
            assert status == 200, who
            return
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                output = log.read_text()
                raise AssertionError(f"the jupyter server did not start:\n{output}") from None
            time.sleep(0.2)


def test_a_members_own_jupyter_server_cannot_act_on_or_read_secrets_of_another_members_job(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, bobs_server: Call) -> None:
    assert bobs_server("GET", "whoami")[1]["user"] == lab.bob
    victim = submit_as(lab.alice, system_queue, code=f"token = '{SECRET}'", env={"TOKEN": SECRET},
                       hold=True, cwd="/tmp")
    own = submit_as(lab.bob, system_queue, **HELD, env={"TOKEN": "bobs own"})
    before = snapshot(root_queue)
    for action in ("cancel", "hold", "release"):
        status, answer = bobs_server("POST", f"jobs/{victim}/{action}", {})
        assert status == 403, answer
        assert f"jmtest_bob may not {action} {victim}" in json.dumps(answer)
    status, answer = bobs_server("POST", "jobs/actions", {"action": "cancel", "ids": [own, victim]})
    assert status == 403 and "belongs to jmtest_alice" in json.dumps(answer), answer
    assert snapshot(root_queue) == before
    status, seen = bobs_server("GET", f"jobs/{victim}")
    assert status == 200 and SECRET not in json.dumps(seen), seen      # neither env nor code
    assert bobs_server("GET", f"jobs/{own}")[1]["job"]["env"] == {"TOKEN": "bobs own"}
    assert os.stat(system_queue / "jobs.db").st_uid == 0
