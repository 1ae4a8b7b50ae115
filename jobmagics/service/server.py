"""A system queue's service: the one process that writes the queue, for everyone.

It listens on ``service.sock`` in the queue folder (mode 0660, the queue's group), learns each
caller's uid from the kernel (``SO_PEERCRED``: nothing the caller sends can change it), and
answers each request with ``operations``. One thread per connection; SQLite does the rest
(every write is its own ``BEGIN IMMEDIATE`` transaction, as for any other writer)."""
from __future__ import annotations

import contextlib
import errno
import grp
import logging
import os
import pwd
import socket
import struct
import threading
from typing import Any

from ..errors import JobmagicsError, QueueError
from ..paths import QueueLayout, current_host
from ..store import Store
from . import protocol
from .group_commit import GroupCommit
from .operations import OPERATIONS, Caller, Session

log = logging.getLogger("jobmagics.service")
_PEERCRED = struct.Struct("3i")          # pid, uid, gid


class Service:
    """Serves one system queue until ``close()``; ``start()`` returns once it listens."""

    def __init__(self, layout: QueueLayout) -> None:
        if not layout.is_system():
            raise QueueError(f"{layout.root} is not a system queue (jobmagics init --system)")
        if os.geteuid() != layout.service_uid():
            raise QueueError(f"the service of {layout.root} runs as the owner of that folder"
                             f" (uid {layout.service_uid()}), not as uid {os.geteuid()}")
        self.layout = layout
        self.store = Store(layout)
        self.store.db.checkpoint_due = threading.Event()
        self.submissions = GroupCommit(self.store)
        self.host = current_host()
        self._listener: socket.socket | None = None
        self._closing = threading.Event()

    def start(self) -> Service:
        self._listener = self._bind()
        threading.Thread(target=self._accept, name="jobmagics-service", daemon=True).start()
        threading.Thread(target=self._checkpoint, name="jobmagics-checkpoint", daemon=True).start()
        log.info("serving %s on %s", self.layout.root, self.layout.socket)
        return self

    def _bind(self) -> socket.socket:
        path = self.layout.socket
        if _answers(path):
            raise QueueError(f"a jobmagics service already serves {self.layout.root}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()                     # left by a service that was killed
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)                 # no moment when others could connect
        try:
            listener.bind(str(path))
        finally:
            os.umask(old)
        group = self.layout.read_settings().get("group")
        gid = grp.getgrnam(str(group)).gr_gid if group else -1
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
        listener.listen(128)
        return listener

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._closing.is_set():
                    return
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name="jobmagics-service-conn").start()

    def _checkpoint(self) -> None:
        """Checkpoints off the requests' path: a submit does not wait for the WAL's fsync."""
        due = self.store.db.checkpoint_due
        assert due is not None
        while not self._closing.is_set():
            if due.wait(1.0):
                due.clear()
                self.store.checkpoint()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            caller = _peer(conn)
            while not self._closing.is_set():
                try:
                    request = protocol.receive(conn)
                except (protocol.ConnectionClosed, OSError, ValueError):
                    return
                except JobmagicsError as exc:          # a message too large: say so, hang up
                    with contextlib.suppress(OSError):
                        protocol.send(conn, {"error": protocol.error_to_wire(exc)})
                    return
                try:
                    protocol.send(conn, self.answer(caller, request))
                except OSError:
                    return

    def answer(self, caller: Caller, request: Any) -> dict[str, Any]:
        """The answer to one request (an error a caller made is an answer, not a crash)."""
        try:
            op, args, kwargs = _parse(request)
            if op in protocol.VERSIONS:        # anyone may ask: they say nothing of any job
                return {"ok": getattr(self.store, op)()}
            handler = OPERATIONS.get(op)
            if handler is None:
                raise QueueError(f"the service has no operation {op!r}")
            session = Session(self.store, self.submissions, caller, self.host)
            return {"ok": handler(session, *args, **kwargs)}
        except JobmagicsError as exc:
            return {"error": protocol.error_to_wire(exc)}
        except TypeError as exc:             # wrong arguments for the operation
            return {"error": ["InvalidJob", f"malformed request: {exc}"]}
        except Exception as exc:   # one caller's bad luck must not stop the service
            log.exception("request %r of %s failed", request, caller.user)
            return {"error": ["QueueError", f"the service failed: {type(exc).__name__}: {exc}"]}

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                self.layout.socket.unlink()
        self.store.close()


def _parse(request: Any) -> tuple[str, list[Any], dict[str, Any]]:
    if not isinstance(request, dict) or not isinstance(request.get("op"), str):
        raise QueueError("a request must name an operation")
    args, kwargs = request.get("args", []), request.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise QueueError("a request's args must be a list and its kwargs a mapping")
    return request["op"], args, kwargs


def _peer(conn: socket.socket) -> Caller:
    """Who is on the other end, from the kernel."""
    _pid, uid, _gid = _PEERCRED.unpack(
        conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid{uid}"
    return Caller(uid=uid, user=name)


def _answers(path: os.PathLike[str]) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(os.fspath(path))
        return True
    except OSError as exc:
        return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        probe.close()


def serve(layout: QueueLayout) -> Service:
    """Start serving ``layout``'s system queue; returns the running service."""
    return Service(layout).start()
