"""Fixtures for the notebook suite: a real IPython kernel (jupyter_client) with jobmagics
loaded and ``$JOBMAGICS_QUEUE`` pointing at the test's queue, read through its messages."""
from __future__ import annotations

import os
import queue as queue_module
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CellResult:
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, *kinds: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in kinds]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout")

    @property
    def error(self) -> dict[str, Any] | None:
        """The reply of a failed cell (ename, evalue, traceback); a UsageError has no traceback."""
        return self.reply if self.reply.get("status") == "error" else None

    @property
    def stderr(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stderr")

    def data(self, mimetype: str) -> list[Any]:
        return [m["content"]["data"][mimetype] for m in self.of_type("display_data", "execute_result")
                if mimetype in m["content"]["data"]]


class KernelSession:
    """Runs cells like a front end does and keeps the state of every widget model it is sent."""

    def __init__(self, manager: Any, client: Any) -> None:
        self.manager = manager
        self.client = client
        self.models: dict[str, dict[str, Any]] = {}
        self.model_history: dict[str, list[dict[str, Any]]] = {}

    def run(self, code: str, timeout: float = 120.0) -> CellResult:
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False)
        result = CellResult(reply={})
        deadline = time.monotonic() + timeout
        while True:
            msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            self._track_widgets(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            result.messages.append(msg)
        while True:
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                result.reply = reply["content"]
                return result

    def value(self, code: str) -> Any:
        """Evaluate an expression in the kernel; its repr read back as a Python literal."""
        import ast
        result = self.run(f"print(repr({code}))")
        assert result.error is None, result.error
        return ast.literal_eval(result.stdout.strip())

    def pump(self, seconds: float = 0.2) -> None:
        """Read the messages the kernel sends by itself (widget updates from its poller)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._track_widgets(self.client.get_iopub_msg(timeout=left))
            except queue_module.Empty:
                return

    def wait_for_model(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for state in self.models.values():
                if predicate(state):
                    return state
            self.pump(0.1)
        raise AssertionError(f"no widget model matched within {timeout} s")

    def _track_widgets(self, msg: dict[str, Any]) -> None:
        content = msg.get("content", {})
        if msg["msg_type"] == "comm_open" and content.get("target_name") == "jupyter.widget":
            state = dict(content["data"]["state"])
            self.models[content["comm_id"]] = state
            self.model_history[content["comm_id"]] = [dict(state)]
        elif msg["msg_type"] == "comm_msg" and content.get("comm_id") in self.models:
            data = content.get("data", {})
            if data.get("method") == "update":
                self.models[content["comm_id"]].update(data.get("state", {}))
                self.model_history[content["comm_id"]].append(dict(data.get("state", {})))

    def send_widget_event(self, comm_id: str, content: dict[str, Any]) -> None:
        """Act as the browser: e.g. a click is {"event": "click"}."""
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}})
        self.client.shell_channel.send(msg)


@pytest.fixture
def kernel(queue_dir: Path) -> Iterator[KernelSession]:
    """A real IPython kernel whose default queue is the test's queue, jobmagics loaded."""
    env = dict(os.environ, JOBMAGICS_QUEUE=str(queue_dir), PYTHONPATH=str(ROOT))
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(queue_dir.parent),
                                       startup_timeout=60)
    session = KernelSession(manager, client)
    loaded = session.run("%load_ext jobmagics")
    assert loaded.error is None, loaded.error
    yield session
    client.stop_channels()
    manager.shutdown_kernel(now=True)
