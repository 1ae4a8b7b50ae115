"""A worker killed (SIGKILL) in the middle of sending a notification: its lease ends with it
and another worker sends it; the interrupted try is visible in the job's notifications."""
from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import jobmagics
from jobmagics.messages import Notification
from tests.conftest import wait_for
from tests.notify_servers import WebhookSink, webhook_sink_fixture  # noqa: F401  (the fixture)


def test_a_worker_killed_while_sending_leaves_the_notification_to_another_worker(
        queue: jobmagics.Queue, start_worker: Callable[..., Any],
        webhook_sink: WebhookSink) -> None:
    webhook_sink.hang = True                  # the first POST is held until the test says
    workers = [start_worker(), start_worker()]
    job = queue.submit(["true"], notify=[f"webhook:{webhook_sink.url}"])
    job.wait(30)
    assert webhook_sink.arrived.wait(30), "no worker tried to send the notification"
    [held] = job.notifications()
    assert held.status == "sending" and held.tries == 1
    [sender] = [w for w in workers if held.sending_by and f":{w.pid}:" in held.sending_by]
    sender.stop(signal.SIGKILL)
    webhook_sink.hang = False                 # the next try is answered
    webhook_sink.release.set()

    def sent() -> Notification | None:
        [n] = job.notifications()
        return n if n.status == "sent" else None

    done = wait_for(sent, timeout=30)
    assert isinstance(done, Notification)
    assert done.tries == 2 and done.sending_by != held.sending_by
    assert done.last_error == f"worker {held.sending_by} stopped while sending it"
    assert len(webhook_sink.posts) == 1
    assert webhook_sink.posts[0]["headers"]["Idempotency-Key"] == held.key
