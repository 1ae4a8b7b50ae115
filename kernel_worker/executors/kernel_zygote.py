"""The parent of a worker's fresh Jupyter kernels: ipykernel imported once, each kernel forked.

A kernel started as a new process spends most of a second of CPU importing ipykernel, IPython,
zmq, tornado and the debugger; forked from this process, which imported them and nothing else,
it only builds its shell and sockets. Nothing runs here but imports: no user code, no kernel,
no thread (a fork server: ``forking``). So a forked kernel holds what a fresh one holds when
its job begins, the same modules and none of any other job's state, and every kernel is forked
from the same pristine parent, never from a kernel that ran something.

What every kernel would do alike is done here, once, besides the imports: the kernel app's
configuration (its command line is always ``-f CONNECTION_FILE`` and ``KERNEL_ARGUMENTS``), and
the queue's ``Queue`` the job's prelude asks for (each kernel then only opens its own database
connection: none is ever shared across a fork).

Run as ``python -m kernel_worker.executors.kernel_zygote QUEUE``, by ``kernel_fork``. An order
is JSON: the kernel's command-line arguments, its environment and its folder."""
from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import sys
from typing import Any

from kernel_worker.executors import forking

# What a kernel imports while it starts (and the prelude of our jobs): imported here, once.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
           "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
           "IPython.extensions.storemagic", "IPython.utils.wildcard", "bdb", "cmd", "pdb",
           "faulthandler", "tornado.platform.asyncio", "IPython.core.logger",
           "kernel_worker.executors.kernel_prelude")
# the worker's arguments for each forked kernel, besides its connection file
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False")
_prepared: dict[str, Any] = {}


def main(queue_root: str | None = None) -> int:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with contextlib.suppress(Exception):      # else each kernel configures its app itself
        _prepared["app"] = _configured_app()
    if queue_root is not None:
        with contextlib.suppress(Exception):  # else the prelude opens it in the kernel
            from jobmagics.client import shared_queue
            shared_queue(queue_root)
    gc.collect()
    gc.freeze()
    return forking.serve(json.loads, run_kernel)


def _configured_app() -> Any:
    """The kernel app with its command line and configuration files read (no socket, no
    thread yet): what ``IPKernelApp.initialize`` first does, the same for every kernel."""
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication

    app = IPKernelApp.instance()
    BaseIPythonApplication.initialize(app, list(KERNEL_ARGUMENTS))
    return app


def _start(argv: list[str], parent: int) -> None:
    """Start the kernel; the rest of ``initialize`` only, where the zygote did the first part
    for exactly these arguments."""
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication

    app = _prepared.get("app")
    if app is None or len(argv) != 2 + len(KERNEL_ARGUMENTS) or argv[0] != "-f" \
            or tuple(argv[2:]) != KERNEL_ARGUMENTS:
        IPKernelApp.launch_instance(argv=[*argv, f"--IPKernelApp.parent_handle={parent}"])
        return
    app.connection_file, app.parent_handle = argv[1], parent
    BaseIPythonApplication.initialize = lambda self, argv=None: None  # type: ignore[method-assign]
    app.initialize([])
    app.start()


def run_kernel(order: dict[str, Any], descriptors: list[int]) -> int:
    """In the forked child: its own session (the worker interrupts and kills the group), its
    folder and environment, then the kernel, until it is shut down or killed."""
    try:
        os.setsid()
        os.chdir(order["cwd"])
        os.environ.clear()
        os.environ.update(order["env"])
        sys.argv = [sys.executable, *order["argv"]]
        # ipykernel ends the kernel when this process, its parent, is gone: and this one ends
        # when the worker does (its end of the socket closes), so no kernel outlives a worker
        _start(order["argv"], os.getppid())
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # noqa: BLE001 - a child must never return into the server's loop
        import traceback
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.__stdout__, sys.__stderr__):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.flush()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
