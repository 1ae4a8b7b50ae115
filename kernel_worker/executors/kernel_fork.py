"""Fresh Jupyter kernels forked from the worker's kernel zygote (``kernel_zygote``).

jupyter_client starts them as any other kernel (connection file, ports, client, shutdown);
only the provisioner's launch differs: instead of a new Python it asks the zygote to fork one.
The kernel is then not the worker's child: ``ForkedProcess`` watches it through a pidfd the
zygote opened for us, and signals it through that pidfd (never a reused pid)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
from typing import TYPE_CHECKING, Any

from ..proctrack import Container
from .forking import ForkServer

if TYPE_CHECKING:
    from jupyter_client import AsyncKernelManager
    from jupyter_client.provisioning import LocalProvisioner

LAUNCHER = ["-m", "ipykernel_launcher"]     # what a kernel spec's argv runs, that we fork instead


class KernelForker:
    """The worker's kernel zygote: started in the background (its imports take a second),
    restarted if it dies; it lives in the worker's home container, as the kernels it forks
    do until a job takes one."""

    def __init__(self, env: dict[str, str], home: Container, queue_root: str) -> None:
        self._server = ForkServer("kernel_worker.executors.kernel_zygote", [queue_root], env,
                                  quiet=False)
        self._server.on_start = lambda pid: home.add(pid, own_group=False)

    def prepare(self) -> None:
        """Start the zygote, and import jupyter_client here, now, not when the first python
        job waits for its kernel (blocking, a second: call it from a thread)."""
        with contextlib.suppress(OSError):
            self._server.ensure()
        import jupyter_client  # noqa: F401

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> ForkedProcess:
        order = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
        pid, pidfd = self._server.fork(order, [])
        return ForkedProcess(pid, pidfd)

    def close(self) -> None:
        self._server.close()


class ForkedProcess:
    """A forked kernel, as jupyter_client's provisioner uses a ``Popen``. Its exit status is
    its parent's to collect (the zygote's): ``returncode`` only says that it ended."""

    stdin = stdout = stderr = None
    ENDED = 1

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd: int | None = pidfd

    def poll(self) -> int | None:
        if self.returncode is None and self._readable(0):
            self.returncode = self.ENDED
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._readable(timeout):
            raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0.0)
        self.returncode = self.ENDED
        self.close()
        return self.returncode

    def _readable(self, timeout: float | None) -> bool:
        return self._pidfd is None or bool(select.select([self._pidfd], [], [], timeout)[0])

    def send_signal(self, signum: int) -> None:
        if self._pidfd is not None and self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        pidfd, self._pidfd = self._pidfd, None
        if pidfd is not None:
            os.close(pidfd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


_made: dict[str, type[LocalProvisioner]] = {}


def forking_provisioner(manager: AsyncKernelManager, forker: KernelForker) -> LocalProvisioner:
    """A provisioner for ``manager`` (set it before ``start_kernel``) whose kernel is forked."""
    if not _made:
        from jupyter_client.provisioning import LocalProvisioner

        class ForkingProvisioner(LocalProvisioner):
            forker: KernelForker

            async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
                if cmd[1:3] != LAUNCHER:          # a kernel spec of another shape: start it
                    return await super().launch_kernel(cmd, **kwargs)
                env, cwd = dict(kwargs.get("env") or os.environ), str(kwargs.get("cwd") or ".")
                process = await asyncio.to_thread(self.forker.fork, cmd[3:], env, cwd)
                self.process = process  # type: ignore[assignment]  # a Popen to it
                self.pid, self.pgid = process.pid, process.pid
                self.cwd = cwd
                return self.connection_info

        _made["class"] = ForkingProvisioner
    provisioner = _made["class"](kernel_id=manager.kernel_id, kernel_spec=manager.kernel_spec,
                                 parent=manager)
    provisioner.forker = forker  # type: ignore[attr-defined]
    return provisioner
