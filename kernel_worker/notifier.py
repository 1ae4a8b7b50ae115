"""Sends the notifications waiting in the outbox (email over SMTP, webhooks as JSON POST), with
retries and backoff.

Each round leases the due rows to this worker in one transaction (``Store.take_notifications``),
sends them outside it, and marks each sent or failed (the store keeps the backoff). Delivery is
at least once: a worker that dies between the server accepting a message and the record leaves
it to be sent again by another; every try carries the same ``Message-ID`` (email) or
``Idempotency-Key`` header (webhook) so a receiver can drop the duplicate."""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from jobmagics import messages
from jobmagics.messages import Notification
from jobmagics.model import JobRecord
from jobmagics.queue_settings import SETTINGS

from .chores import Chore, ChoreContext

log = logging.getLogger("kernel_worker")

# The worker pokes its chores when another process changed the queue, not when it ended a job
# itself: this look (one indexed read) catches the notifications of its own jobs.
POLL_S = 0.5
BATCH = 8                     # with PARALLEL_SENDS at once, all sent well within the lease
PARALLEL_SENDS = 4            # threads of one round
ROUNDS = 4                    # rounds under way at once (a hanging server holds only its own)
WEBHOOK_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 30.0
LOG_TAIL_BYTES = 8192
SMTPS_PORT = 465              # implicit TLS (the others: plain, or STARTTLS with smtp.starttls)


# the rounds of sending under way, per worker of this process
_rounds: dict[str, list[threading.Thread]] = {}


class SendFailed(Exception):
    """One try failed; ``permanent``: trying again cannot help (no SMTP server configured, a
    refused address, an HTTP 4xx)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def run(context: ChoreContext, now: float) -> float:
    """Hand what is due to a sending thread (the chore thread also submits schedules' runs:
    a server that takes its time must not delay them); the seconds until the next look."""
    store = context.store
    rounds = _rounds[context.worker_id] = [t for t in _rounds.get(context.worker_id, [])
                                           if t.is_alive()]
    if len(rounds) >= ROUNDS:           # servers that hang: their rounds end with the timeouts
        return POLL_S
    due = store.next_notification_at(now)
    if due is None or due > now:
        return POLL_S if due is None else min(POLL_S, due - now)
    taken = store.take_notifications(context.worker_id, now, BATCH)
    if taken:
        settings = _settings(store.queue_settings())
        thread = threading.Thread(target=_deliver_all, args=(context, taken, settings),
                                  name="jobmagics-notify", daemon=True)
        rounds.append(thread)
        thread.start()
    return POLL_S


def _deliver_all(context: ChoreContext, taken: list[tuple[Notification, JobRecord | None]],
                 settings: dict[str, Any]) -> None:
    """Several at once, so one slow server does not hold back the others' notifications.
    Daemon threads: a worker that stops does not wait for a hanging server (what it had not
    sent yet is left to the lease)."""
    todo = list(reversed(taken))
    lock = threading.Lock()

    def work() -> None:
        while not context.stopping.is_set():
            with lock:
                if not todo:
                    break
                notification, job = todo.pop()
            try:
                deliver(context, notification, job, settings)
            except Exception:                # the store failed to record it: the lease ends
                log.exception("could not record the notification of %s", notification.job_id)
        context.store.db.close()             # this thread's connection (the thread ends)

    threads = [threading.Thread(target=work, name="jobmagics-notify", daemon=True)
               for _ in range(min(PARALLEL_SENDS, len(taken)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _settings(stored: dict[str, Any]) -> dict[str, Any]:
    return {s.name: stored.get(s.name, s.default) for s in SETTINGS}


def deliver(context: ChoreContext, n: Notification, job: JobRecord | None,
            settings: dict[str, Any]) -> None:
    """One try of one notification, recorded as sent or failed."""
    store, me = context.store, context.worker_id
    try:
        if job is None:
            raise SendFailed("the job was deleted before this was sent", permanent=True)
        if job.array_id is not None:          # an element's end that ended its array
            job = messages.as_array(job, store.array(job.array_id))
        kind, _, where = n.target.partition(":")
        if kind == "email":
            send_email(where, n, job, settings, _log_tail(context, job.id),
                       str(context.queue.path), context.queue.host)
        elif kind == "webhook":
            send_webhook(where, n, job, str(context.queue.path))
        else:
            raise SendFailed(f"unknown kind of target {kind!r}", permanent=True)
    except SendFailed as exc:
        log.warning("notification of %s to %s failed: %s", n.job_id, n.target, exc)
        store.notification_failed(n.id, me, str(exc), time.time(), permanent=exc.permanent)
    except Exception as exc:          # a sender's bug: recorded, retried, never the worker's end
        log.exception("notification of %s to %s failed", n.job_id, n.target)
        store.notification_failed(n.id, me, f"{type(exc).__name__}: {exc}", time.time())
    else:
        log.info("notified %s of %s (%s)", n.target, n.job_id, n.state)
        store.notification_sent(n.id, me, time.time())


def _log_tail(context: ChoreContext, job_id: str) -> str:
    path: Path = context.queue.layout.log(job_id)
    with contextlib.suppress(OSError), open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return messages.log_tail(handle.read().decode("utf-8", errors="replace"))
    return ""


# ---- email --------------------------------------------------------------------------------
def send_email(address: str, n: Notification, job: JobRecord, settings: dict[str, Any],
               log_tail: str, queue: str, host: str) -> None:
    server = settings["smtp.host"]
    if not server:
        raise SendFailed("no SMTP server configured (jobmagics settings set smtp.host HOST)",
                         permanent=True)
    message = EmailMessage()
    message["Subject"] = messages.subject(job, n.state)
    message["From"] = settings["smtp.from"] or f"jobmagics@{host}"
    message["To"] = address
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<{n.key}@{host}>"      # the same on every try
    message["X-Jobmagics-Job"] = job.id
    message.set_content(messages.email_body(job, n.state, log_tail, queue))
    port = int(settings["smtp.port"])
    try:
        with _smtp(server, port) as smtp:
            if settings["smtp.starttls"]:
                smtp.starttls(context=ssl.create_default_context())
            if settings["smtp.user"]:
                smtp.login(settings["smtp.user"], _password(settings["smtp.password_file"]))
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendFailed(f"the SMTP server refused {address}: {_refusal(exc)}",
                         permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        raise SendFailed(f"SMTP {exc.smtp_code} from {server}:{port}: {text}",
                         permanent=exc.smtp_code >= 500) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise SendFailed(f"cannot reach the SMTP server {server}:{port}: {_reason(exc)}") from None


def _smtp(server: str, port: int) -> smtplib.SMTP:
    if port == SMTPS_PORT:
        return smtplib.SMTP_SSL(server, port, timeout=SMTP_TIMEOUT_S,
                                context=ssl.create_default_context())
    return smtplib.SMTP(server, port, timeout=SMTP_TIMEOUT_S)


def _password(path: str | None) -> str:
    if not path:
        raise SendFailed("smtp.user is set but smtp.password_file is not"
                         " (jobmagics settings set smtp.password_file FILE)")
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SendFailed(f"cannot read smtp.password_file {path}: {exc.strerror}") from None


def _refusal(exc: smtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(f"{code} {text.decode(errors='replace')}"
                     for code, text in exc.recipients.values())


def _reason(exc: object) -> str:
    return str(exc) or type(exc).__name__


# ---- webhooks -----------------------------------------------------------------------------
def send_webhook(url: str, n: Notification, job: JobRecord, queue: str) -> None:
    """A JSON POST; any 2xx answer is delivery."""
    body = json.dumps(messages.webhook_json(job, n.state, queue)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": n.key,
        "User-Agent": "jobmagics"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        answer = exc.read(200).decode(errors="replace").strip()
        raise SendFailed(f"HTTP {exc.code} {exc.reason}" + (f": {answer}" if answer else ""),
                         permanent=400 <= exc.code < 500 and exc.code not in (408, 429)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SendFailed(f"cannot reach {url}: {_reason(reason)}") from None
    if not 200 <= status < 300:
        raise SendFailed(f"HTTP {status} from {url}")


CHORE = Chore("notifications", run)
