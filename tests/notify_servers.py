"""Real servers for the notification tests, on 127.0.0.1: an SMTP server (aiosmtpd) that
collects the messages it accepts, and an HTTP server (http.server, in a thread) that collects
the webhook POSTs it answers. Both can be told to fail, or (the webhook) to hang until
released."""
from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import jobmagics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """An aiosmtpd server collecting what it accepts (``messages``, parsed)."""

    def __init__(self, port: int | None = None, login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.login = login                    # (user, password) the server asks for
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.times: list[float] = []          # when each message was accepted
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(  # type: ignore[arg-type]
            envelope.content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.times.append(time.time())
        return "250 OK"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.login, handled=False)  # (else: no 535 reply)

    def start(self) -> SmtpSink:
        auth: dict[str, Any] = {} if self.login is None else {
            "authenticator": self._authenticate, "auth_require_tls": False,
            "auth_required": True}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def configure(self, queue: jobmagics.Queue) -> None:
        """Point the queue's settings at this server."""
        queue.set_setting("smtp.host", "127.0.0.1")
        queue.set_setting("smtp.port", str(self.port))
        queue.set_setting("smtp.from", "lab-queue@example.org")


@dataclass
class WebhookSink:
    """An HTTP server collecting POSTs (``posts``: headers and JSON body). ``status`` is what
    it answers; ``hang`` makes it hold each request until ``release`` is set."""

    port: int = field(default_factory=free_port)
    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)
    hang: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.arrived.set()
                if sink.hang:
                    sink.release.wait(60)
                    return              # no answer: the connection is dropped
                if 200 <= sink.status < 300:
                    sink.posts.append({"headers": dict(self.headers),
                                       "json": json.loads(body), "at": time.time()})
                self.send_response(sink.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(name="webhook_sink")
def webhook_sink_fixture() -> Iterator[WebhookSink]:
    sink = WebhookSink().start()
    yield sink
    sink.stop()
