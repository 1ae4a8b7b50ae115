"""The persistent kernel of an exclusive resource: started once, prepared by ``--startup
FILE`` (which typically connects the station into a global named ``station``), started and
prepared again if it dies. Runs on the KernelExecutor's event loop."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..proctrack import Container
from .kernel_capture import strip_ansi
from .kernel_session import ManagedKernel, error_line

log = logging.getLogger("kernel_worker")


class StartupFailed(RuntimeError):
    """The ``--startup`` file raised in the persistent kernel."""


class PersistentKernel:
    """The long-lived kernel of one exclusive resource; (re)prepared by the startup file."""

    def __init__(self, resource: str, startup: str | None, queue_root: str,
                 home: Container) -> None:
        self.resource = resource
        self.home = home
        self.startup = startup
        self.queue_root = queue_root
        self.lock = asyncio.Lock()    # one job at a time, even if capacities were misconfigured
        self.kernel: ManagedKernel | None = None

    async def ready(self, note: Callable[[str], None]) -> ManagedKernel:
        """The live kernel; started and prepared again if it is new or died. Hold ``lock``."""
        if self.kernel is not None and await self.kernel.alive():
            return self.kernel
        if self.kernel is not None:
            await self.kernel.kill()
            note(f"[jobmagics] restarting the persistent kernel of {self.resource}")
        self.kernel = None
        kernel = await ManagedKernel.start(self.queue_root, self.home)
        if self.startup:
            await self._run_startup(kernel, note)
        self.kernel = kernel
        return kernel

    async def _run_startup(self, kernel: ManagedKernel, note: Callable[[str], None]) -> None:
        source = await asyncio.to_thread(Path(self.startup or "").read_text, encoding="utf-8")
        code = f"exec(compile({source!r}, {self.startup!r}, 'exec'), globals())\n"

        def show(msg_type: str, content: dict[str, Any]) -> None:
            if msg_type == "stream":
                note(str(content.get("text", "")).rstrip("\n"))

        reply = await kernel.execute(code, show, silent=True)
        if reply.get("status") != "ok":
            note(strip_ansi("\n".join(reply.get("traceback") or [])))
            await kernel.kill()
            raise StartupFailed(f"startup file {self.startup} failed: {error_line(reply)}")
        note(f"[jobmagics] persistent kernel of {self.resource} prepared by {self.startup}")

    async def prepare_in_background(self) -> None:
        async with self.lock:
            with contextlib.suppress(Exception):
                await self.ready(lambda line: log.info("%s: %s", self.resource, line))

    async def shutdown(self) -> None:
        if self.kernel is not None:
            await self.kernel.shutdown()
            self.kernel = None
