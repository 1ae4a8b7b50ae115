"""Notifications outside JupyterLab, end to end: real workers send email to a real SMTP server
(aiosmtpd) and webhooks to a real HTTP server, both on 127.0.0.1 and started here."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.cli import main
from jobmagics.messages import Notification, sentence
from jobmagics.store.outbox import FIRST_RETRY_S, GIVE_UP_S, retry_delay
from tests.conftest import wait_for
from tests.notify_servers import (  # noqa: F401  (the fixtures)
    SmtpSink,
    WebhookSink,
    smtp_sink_fixture,
    webhook_sink_fixture,
)

Worker = Callable[..., Any]


def settled(job: jobmagics.Job) -> list[Notification]:
    """The job's notifications once none waits any more (each sent or failed)."""
    def done() -> list[Notification] | None:
        found = job.notifications()
        return found if found and all(n.status in ("sent", "failed") for n in found) else None
    result = wait_for(done, timeout=30)
    assert isinstance(result, list)
    return result


def test_a_completed_job_sends_one_email_and_one_webhook(
        queue: jobmagics.Queue, start_worker: Worker, smtp_sink: SmtpSink,
        webhook_sink: WebhookSink) -> None:
    smtp_sink.configure(queue)
    job = queue.submit(["sh", "-c", "echo line one; echo the last line"], name="fit",
                       notify=["email:alice@example.org", f"webhook:{webhook_sink.url}"])
    start_worker()
    sent = settled(job.wait(30))
    assert [n.status for n in sent] == ["sent", "sent"] and all(n.tries == 1 for n in sent)
    assert len(smtp_sink.messages) == 1 and len(webhook_sink.posts) == 1
    mail, post = smtp_sink.messages[0], webhook_sink.posts[0]
    said = sentence(job.refresh().record, "completed")
    assert said.startswith(f"Job {job.id} (fit) of {queue.user} completed in ")
    assert mail["Subject"] == f"[jobmagics] {said}"
    assert mail["To"] == "alice@example.org" and mail["From"] == "lab-queue@example.org"
    body = mail.get_content()
    assert "the last line" in body and f"jobmagics status {job.id}" in body
    assert post["json"]["text"] == said and post["json"]["job"]["id"] == job.id
    assert post["json"]["job"]["state"] == "completed"
    key = post["headers"]["Idempotency-Key"]
    assert key.startswith(f"{job.id}.1.completed.") and mail["Message-ID"].startswith(f"<{job.id}.")


def test_a_failed_job_says_why_in_one_sentence(
        queue: jobmagics.Queue, start_worker: Worker, smtp_sink: SmtpSink,
        webhook_sink: WebhookSink) -> None:
    smtp_sink.configure(queue)
    job = queue.submit(["sh", "-c", "exit 3"], name="fit",
                       notify=["email:alice@example.org", f"webhook:{webhook_sink.url}"])
    start_worker()
    settled(job.wait(30))
    expected = f"Job {job.id} (fit) of {queue.user} failed: exit code 3"
    assert smtp_sink.messages[0]["Subject"] == f"[jobmagics] {expected}"
    assert webhook_sink.posts[0]["json"]["text"] == expected


def test_notify_on_failure_says_nothing_when_the_job_completes(
        queue: jobmagics.Queue, start_worker: Worker, webhook_sink: WebhookSink) -> None:
    targets = {"notify": [f"webhook:{webhook_sink.url}"], "notify_on": "failure"}
    fine = queue.submit(["true"], **targets)
    broken = queue.submit(["false"], after=[fine.id], **targets)
    start_worker()
    settled(broken.wait(30))
    assert fine.wait(5).state == "completed" and fine.notifications() == []
    assert [p["json"]["job"]["id"] for p in webhook_sink.posts] == [broken.id]


def test_a_users_defaults_apply_to_submissions_that_name_no_target(
        queue: jobmagics.Queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        start_worker: Worker, webhook_sink: WebhookSink) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["notify", "set", f"webhook:{webhook_sink.url}", "--on", "failure"]) == 0
    plain = queue.submit(["false"])
    explicit = queue.submit(["false"], notify=["email:bob@example.org"])
    assert plain.record.notify == [f"webhook:{webhook_sink.url}"]
    assert plain.record.notify_on == "failure"
    assert explicit.record.notify == ["email:bob@example.org"]     # only those it names
    assert explicit.record.notify_on == "end"
    start_worker()
    settled(plain.wait(30))
    assert [p["json"]["job"]["id"] for p in webhook_sink.posts] == [plain.id]


def test_a_webhook_server_that_is_down_is_tried_again_later_and_gets_it_once(
        queue: jobmagics.Queue, start_worker: Worker) -> None:
    sink = WebhookSink()                       # its port, not listening yet
    job = queue.submit(["true"], notify=[f"webhook:{sink.url}"])
    start_worker()
    job.wait(30)
    first = wait_for(lambda: [n for n in job.notifications() if n.tries == 1 and n.last_error])
    assert isinstance(first, list)
    assert "cannot reach" in str(first[0].last_error) and first[0].status == "waiting"
    assert first[0].next_try_at - time.time() > FIRST_RETRY_S / 2    # backing off
    sink.start()
    try:
        [done] = settled(job)
        assert done.status == "sent" and done.tries == 2
        assert len(sink.posts) == 1
    finally:
        sink.stop()


def test_several_workers_send_each_notification_once(
        queue: jobmagics.Queue, start_worker: Worker, smtp_sink: SmtpSink,
        webhook_sink: WebhookSink) -> None:
    smtp_sink.configure(queue)
    jobs = queue.submit_many([{"command": ["true"], "notify": [
        f"email:user{i}@example.org", f"webhook:{webhook_sink.url}"]} for i in range(20)])
    for _ in range(3):
        start_worker("--slots", "4")
    for job in jobs:
        assert [n.status for n in settled(job.wait(60))] == ["sent", "sent"]
    keys = [p["headers"]["Idempotency-Key"] for p in webhook_sink.posts]
    assert len(keys) == 20 and len(set(keys)) == 20
    ids = [m["Message-ID"] for m in smtp_sink.messages]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_email_without_an_smtp_server_fails_and_says_how_to_set_one(
        queue: jobmagics.Queue, start_worker: Worker, capsys: pytest.CaptureFixture[str]) -> None:
    job = queue.submit(["true"], notify=["email:alice@example.org"])
    start_worker()
    [failed] = settled(job.wait(30))
    assert failed.status == "failed"
    assert failed.last_error == "no SMTP server configured (jobmagics settings set smtp.host HOST)"
    assert main(["status", job.id]) == 0
    shown = capsys.readouterr().out
    assert "email:alice@example.org" in shown and "no SMTP server configured" in shown


def test_a_webhook_answering_404_is_given_up_at_once(
        queue: jobmagics.Queue, start_worker: Worker, webhook_sink: WebhookSink) -> None:
    webhook_sink.status = 404
    job = queue.submit(["true"], notify=[f"webhook:{webhook_sink.url}"])
    start_worker()
    [failed] = settled(job.wait(30))
    assert failed.status == "failed" and failed.tries == 1
    assert str(failed.last_error).startswith("HTTP 404")


# ---- the outbox's rules, driven through the store with chosen clocks ------------------------
@pytest.fixture
def waiting_notification(queue: jobmagics.Queue, start_worker: Worker) -> tuple[Any, str]:
    """A job that ended with one webhook notification nobody sends (the worker has no chores):
    the store, and the live worker's id to take it as."""
    worker = start_worker("--no-chores")
    queue.submit(["true"], notify=["webhook:http://127.0.0.1:9/never"]).wait(30)
    [registered] = [w for w in queue.workers() if f":{worker.pid}:" in w["id"]]
    return queue.direct_store(), str(registered["id"])


def test_a_taken_notification_is_leased_and_retried_with_doubling_backoff(
        waiting_notification: tuple[Any, str]) -> None:
    store, me = waiting_notification
    now = time.time()
    [(first, job)] = store.take_notifications(me, now)
    assert first.tries == 1 and first.sending_by == me and job.state.value == "completed"
    assert store.take_notifications(me, now) == []          # its live holder has it
    store.notification_failed(first.id, me, "down", now)
    assert store.take_notifications(me, now + FIRST_RETRY_S - 1) == []
    assert store.next_notification_at(now) == pytest.approx(now + FIRST_RETRY_S)
    [(second, _)] = store.take_notifications(me, now + FIRST_RETRY_S)
    assert second.tries == 2 and second.last_error == "down"
    store.notification_failed(second.id, me, "down again", now + FIRST_RETRY_S)
    [again] = store.notifications(second.job_id)
    assert again.next_try_at == pytest.approx(now + 3 * FIRST_RETRY_S)  # 10 s, then 20 s
    assert [retry_delay(t) for t in (1, 2, 3, 9, 30)] == [10, 20, 40, 2560, 3600]


def test_a_notification_still_failing_a_day_after_the_end_is_given_up(
        waiting_notification: tuple[Any, str]) -> None:
    store, me = waiting_notification
    [(n, _)] = store.take_notifications(me, time.time())
    store.notification_failed(n.id, me, "HTTP 503", n.created_at + GIVE_UP_S)
    [given_up] = store.notifications(n.job_id)
    assert given_up.status == "failed" and given_up.last_error == "HTTP 503"
    assert store.take_notifications(me, n.created_at + 2 * GIVE_UP_S) == []
    assert store.next_notification_at(time.time()) is None


def test_a_notification_held_by_a_sender_that_is_not_alive_is_taken_at_once(
        waiting_notification: tuple[Any, str]) -> None:
    store, me = waiting_notification
    now = time.time()
    [(n, _)] = store.take_notifications("gone-worker", now)
    [(again, _)] = store.take_notifications(me, now)         # its lease had hours to run
    assert again.id == n.id and again.tries == 2
    assert again.last_error == "worker gone-worker stopped while sending it"


def test_the_sentence_says_each_end_once(queue: jobmagics.Queue) -> None:
    held = queue.submit(["true"], hold=True, name="scan")
    held.cancel()
    record = held.refresh().record
    assert sentence(record, "cancelled") == (f"Job {held.id} (scan) of {queue.user} was"
                                             f" cancelled by {queue.user}")
    timed_out = dataclasses.replace(record, error="timed out after 60 s")
    assert sentence(timed_out, "timeout").endswith("of root timed out after 60 s".replace(
        "root", queue.user))
    failed = dataclasses.replace(record, error=None, exit_code=3, name=None)
    assert sentence(failed, "failed") == f"Job {held.id} of {queue.user} failed: exit code 3"


def test_a_hanging_server_does_not_hold_back_other_notifications(
        queue: jobmagics.Queue, start_worker: Worker, webhook_sink: WebhookSink) -> None:
    hanging = WebhookSink(hang=True).start()
    try:
        stuck = queue.submit(["true"], notify=[f"webhook:{hanging.url}"])
        start_worker()
        assert hanging.arrived.wait(30)
        fine = queue.submit(["true"], notify=[f"webhook:{webhook_sink.url}"])
        [sent] = settled(fine.wait(30))
        assert sent.status == "sent" and [n.status for n in stuck.notifications()] == ["sending"]
    finally:
        hanging.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_logs_in_with_the_password_from_its_file(
        queue: jobmagics.Queue, start_worker: Worker, tmp_path: Path) -> None:
    sink = SmtpSink(login=("queue-bot", "s3cret")).start()
    try:
        sink.configure(queue)
        secret = tmp_path / "smtp-password"
        secret.write_text("s3cret\n")
        queue.set_setting("smtp.user", "queue-bot")
        queue.set_setting("smtp.password_file", str(secret))
        start_worker()
        job = queue.submit(["true"], notify=["email:alice@example.org"])
        assert [n.status for n in settled(job.wait(30))] == ["sent"]
        secret.write_text("wrong\n")
        refused = queue.submit(["true"], notify=["email:alice@example.org"])
        [failed] = settled(refused.wait(30))
        assert failed.status == "failed" and str(failed.last_error).startswith("SMTP 535")
        assert len(sink.messages) == 1
    finally:
        sink.stop()


def test_an_array_sends_one_notification_when_its_last_element_ends(
        queue: jobmagics.Queue, start_worker: Worker, webhook_sink: WebhookSink) -> None:
    array = queue.submit_array(["sh", "-c", "exit $(( {item} == 3 ))"], items=range(6),
                               name="sweep", notify=[f"webhook:{webhook_sink.url}"])
    start_worker("--slots", "2")
    array.wait(60)
    wait_for(lambda: webhook_sink.posts, timeout=30)
    time.sleep(1.0)                  # room for a wrong second post to arrive
    assert len(webhook_sink.posts) == 1, [p["json"]["text"] for p in webhook_sink.posts]
    text = webhook_sink.posts[0]["json"]["text"]
    assert text == f"Array {array.id} (sweep) of {queue.user} failed: 1 failed of its 6 elements"
    assert webhook_sink.posts[0]["json"]["job"]["id"] == array.id
