"""One Jupyter kernel owned by the worker: start, execute code while streaming its IOPub
messages, interrupt, kill. Everything here runs on the KernelExecutor's event loop."""
from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jobmagics import errors
from jobmagics.context import ATTEMPT_VAR, JOB_ID_VAR, QUEUE_VAR

from ..identity import Identity
from ..proctrack import Container
from .kernel_fork import KernelForker, forking_provisioner
from .kernel_work import kernel_call  # noqa: F401 - where it was; the prelude's calls live there
from .kernel_zygote import KERNEL_ARGUMENTS

if TYPE_CHECKING:
    from jupyter_client import AsyncKernelManager

READY_TIMEOUT_S = 60.0
POLL_S = 0.2                      # how often a quiet kernel is checked for being alive
_REPO_ROOT = str(Path(__file__).resolve().parents[2])

OutputCallback = Callable[[str, dict[str, Any]], None]


class KernelDied(RuntimeError):
    """The kernel process exited (crash, os._exit, killed) while we waited for it."""


def kernel_environment(queue_root: str, owner: Identity | None = None) -> dict[str, str]:
    env = dict(os.environ) if owner is None else owner.environment(dict(os.environ))
    env.pop(JOB_ID_VAR, None)
    env.pop(ATTEMPT_VAR, None)
    env[QUEUE_VAR] = queue_root
    # the prelude imports jobmagics/kernel_worker: make that work whatever the kernel's cwd
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
    # figures become image/png outputs
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


class ManagedKernel:
    """A started kernel plus the client the worker talks to it through."""

    def __init__(self, manager: AsyncKernelManager) -> None:
        self.manager = manager
        self.client = manager.client(context=manager.context)    # not a zmq context of its own
        self.dead = False

    @classmethod
    async def start(cls, queue_root: str, home: Container, cwd: str | None = None,
                    owner: Identity | None = None,
                    forker: KernelForker | None = None) -> ManagedKernel:
        """A new kernel in the worker's ``home`` container (a job's takes it for its duration);
        ``owner``: it runs as that account (a system queue's fresh kernel for a job);
        ``forker``: forked from the worker's kernel zygote (see ``kernel_fork``), not started
        as a new Python (a batch kernel of the worker's own account: it keeps no history)."""
        manager = _manager_for(owner)
        as_owner: dict[str, Any] = {}
        if owner is not None:
            as_owner = owner.popen_keywords()
            cwd = cwd or "/"     # the worker's folder may be closed to them; the job's is set later
        # the kernel's own log (e.g. its warning about TCP without encryption) is noise in the
        # worker's log; the job's output, warnings included, arrives over IOPub anyway
        arguments = ["--IPKernelApp.log_level=ERROR"]
        if forker is not None and owner is None:
            manager.kernel_id = str(uuid.uuid4())
            manager.provisioner = forking_provisioner(manager, forker)
            arguments = list(KERNEL_ARGUMENTS)
        await manager.start_kernel(cwd=cwd or os.getcwd(),
                                   env=kernel_environment(queue_root, owner),
                                   extra_arguments=arguments, **as_owner)
        kernel = cls(manager)
        try:
            if kernel.pid is not None:
                home.add(kernel.pid, own_group=False)
            # shell and IOPub only: no heartbeat thread per kernel (its process is watched),
            # no stdin (jobs take no input), no control (interrupts are signals)
            kernel.client.start_channels(stdin=False, hb=False, control=False)
            await kernel.ready(READY_TIMEOUT_S)
        except BaseException:
            await kernel.kill()
            raise
        return kernel

    async def ready(self, timeout: float) -> None:
        """Wait until the kernel answers on its shell channel and publishes on IOPub (its
        status for our request: then no output of the job can be published unheard).
        jupyter_client's ``wait_for_ready`` also waits for 0.2 s of silence on IOPub after
        that, which only delays every fresh kernel."""
        deadline = time.monotonic() + timeout
        while True:
            request = self.client.kernel_info()
            if await self._answered(request) and await self._published():
                return
            if not await self.alive():
                raise KernelDied("the Jupyter kernel died before it was ready")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Jupyter kernel did not answer in {timeout:.0f} s")

    async def _answered(self, request: str) -> bool:
        with contextlib.suppress(queue.Empty):
            while True:
                reply = await self.client.get_shell_msg(timeout=1.0)
                if reply["parent_header"].get("msg_id") == request:
                    return True
        return False

    async def _published(self) -> bool:
        try:
            await self.client.get_iopub_msg(timeout=POLL_S)
            return True
        except queue.Empty:
            return False

    @property
    def pid(self) -> int | None:
        provisioner = self.manager.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None else None

    async def alive(self) -> bool:
        if self.dead:
            return False
        self.dead = not await self.manager.is_alive()
        return not self.dead

    async def execute(self, code: str, on_output: OutputCallback | None = None, *,
                      silent: bool = False, store_history: bool | None = None,
                      user_expressions: dict[str, str] | None = None) -> dict[str, Any]:
        """Run ``code``; each of its IOPub messages goes to ``on_output``; returns the reply
        content (with the values of ``user_expressions``, evaluated after the code).

        ``store_history`` defaults to ``not silent``. Raises ``KernelDied`` if the kernel goes
        away before replying."""
        history = not silent if store_history is None else store_history
        msg_id = self.client.execute(code, silent=silent, store_history=history,
                                     user_expressions=user_expressions, allow_stdin=False,
                                     stop_on_error=False)
        while True:
            msg = await self._next(self.client.get_iopub_msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                if msg["content"].get("execution_state") == "idle":
                    break
            elif on_output is not None:
                on_output(msg["msg_type"], msg["content"])
        while True:
            reply = await self._next(self.client.get_shell_msg)
            if reply["parent_header"].get("msg_id") == msg_id:
                return dict(reply["content"])

    async def _next(self, receive: Callable[..., Any]) -> dict[str, Any]:
        while True:
            try:
                return await receive(timeout=POLL_S)
            except queue.Empty:
                if not await self.alive():
                    raise KernelDied("the Jupyter kernel died") from None

    async def interrupt(self) -> None:
        if not self.dead:
            with contextlib.suppress(Exception):
                await self.manager.interrupt_kernel()

    def kill_now(self) -> None:
        """SIGKILL the kernel's process group; ``kill`` then cleans up after it."""
        pid = self.pid
        if pid is not None and not self.dead:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        self.dead = True

    async def kill(self) -> None:
        """Stop the kernel now, with everything it started (its own process group)."""
        self.kill_now()
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):
            await self.manager.shutdown_kernel(now=True)

    async def shutdown(self, grace: float = 2.0) -> None:
        """Ask politely (a station's startup code may close connections on exit), then kill."""
        if not self.dead:
            with contextlib.suppress(Exception):
                self.manager.shutdown_wait_time = grace
                await asyncio.wait_for(self.manager.shutdown_kernel(now=False), grace + 1.0)
        await self.kill()


_made_once: dict[str, Any] = {}


def _manager_for(owner: Identity | None) -> AsyncKernelManager:
    """A kernel manager; for ``owner``, one whose connection file that account may read: in a
    folder every account may pass through but not list (the worker's own runtime folder is
    closed to others), given to the owner as soon as jupyter_client has written it."""
    from jupyter_client import AsyncKernelManager  # not at import: workers start fast

    if owner is None:
        return _shared_manager()
    if not _made_once:
        class OwnedKernelManager(AsyncKernelManager):
            owner: Identity

            def write_connection_file(self, **kwargs: Any) -> None:
                super().write_connection_file(**kwargs)
                self.owner.own(self.connection_file, 0o600)

        folder = tempfile.mkdtemp(prefix="jobmagics-kernels-")
        os.chmod(folder, 0o711)
        _made_once.update(manager=OwnedKernelManager, folder=folder)
    manager = _made_once["manager"](kernel_name="python3")
    manager.owner = owner
    manager.connection_file = os.path.join(_made_once["folder"],
                                           f"kernel-{owner.user}-{uuid.uuid4()}.json")
    return manager


_shared: dict[str, Any] = {}


def _shared_manager() -> AsyncKernelManager:
    """A kernel manager for a kernel of the worker's own account. Its managers share one zmq
    context (each would start an I/O thread of its own) and read the kernel spec once (each
    would search the kernel folders and the provisioners' entry points again)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from zmq.asyncio import Context

    if not _shared:
        class KernelSpecsReadOnce(KernelSpecManager):
            read: ClassVar[dict[str, KernelSpec]] = {}

            def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
                if kernel_name not in self.read:
                    self.read[kernel_name] = super().get_kernel_spec(kernel_name)
                return self.read[kernel_name]

        _shared.update(specs=KernelSpecsReadOnce(), context=Context())
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_shared["specs"],
                              context=_shared["context"])


def remove_connection_folder() -> None:
    """The worker stops: the folder of its owners' connection files goes (files and all)."""
    folder = _made_once.pop("folder", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        _made_once.clear()


def error_line(reply: dict[str, Any]) -> str:
    """'ZeroDivisionError: division by zero' from an execute_reply (or an error output); one
    of jobmagics' own errors (an experiment's config refused in the instrument's kernel) is
    its sentence alone, as the submit-time check says it."""
    name, value = reply.get("ename") or "Error", reply.get("evalue") or ""
    ours = getattr(errors, str(name), None)
    if value and isinstance(ours, type) and issubclass(ours, errors.JobmagicsError):
        return str(value)
    return f"{name}: {value}" if value else str(name)
