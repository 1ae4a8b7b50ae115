"""The parent of a worker's fresh Jupyter kernels: ipykernel imported once, each kernel forked.

A kernel started as a new process spends most of a second of CPU importing ipykernel, IPython,
zmq, tornado and the debugger; forked from this process, which imported them and nothing else,
it only builds its shell and sockets. Nothing runs here but imports: no user code, no kernel,
no thread (a fork server: ``forking``). So a forked kernel holds what a fresh one holds when
its job begins, the same modules and none of any other job's state, and every kernel is forked
from the same pristine parent, never from a kernel that ran something.

Run as ``python -m kernel_worker.executors.kernel_zygote``, by ``kernel_fork.KernelForker``.
An order is JSON: the kernel's command-line arguments (``-f CONNECTION_FILE ...``), its
environment and its folder."""
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
           "faulthandler", "tornado.platform.asyncio", "kernel_worker.executors.kernel_prelude")


def main() -> int:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return forking.serve(json.loads, run_kernel)


def run_kernel(order: dict[str, Any], descriptors: list[int]) -> int:
    """In the forked child: its own session (the worker interrupts and kills the group), its
    folder and environment, then the kernel, until it is shut down or killed."""
    try:
        os.setsid()
        os.chdir(order["cwd"])
        os.environ.clear()
        os.environ.update(order["env"])
        # ipykernel ends the kernel when this process, its parent, is gone: and this one ends
        # when the worker does (its end of the socket closes), so no kernel outlives a worker
        argv = [*order["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = [sys.executable, *argv]
        from ipykernel.kernelapp import IPKernelApp
        IPKernelApp.launch_instance(argv=argv)
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
    sys.exit(main())
