"""`python bench/bench_notifications.py`: how long from a job's end (its recorded
``finished_at``) to the notification's delivery, by a real worker to a real SMTP server
(aiosmtpd) and a real webhook server (http.server), both on 127.0.0.1.

Jobs are submitted one at a time (each waits for its delivery), so this is latency, not
throughput. Two setups: one worker (it sends its own jobs' notifications: it finds them on
its next look, every ``notifier.POLL_S``), and two workers (the other one sees the ended job
as a change of the queue and sends at once)."""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jobmagics
from kernel_worker import spawn
from kernel_worker.notifier import POLL_S
from tests.notify_servers import SmtpSink, WebhookSink

JOBS = 30


def delivered_at(sink: SmtpSink | WebhookSink, count: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        times = sink.times if isinstance(sink, SmtpSink) else [p["at"] for p in sink.posts]
        if len(times) >= count:
            return float(times[count - 1])
        time.sleep(0.002)
    raise TimeoutError(f"notification {count} not delivered within {timeout} s")


def latencies(base: Path, target: str, sink: SmtpSink | WebhookSink,
              workers: int) -> list[float]:
    q = jobmagics.Queue(base)
    if isinstance(sink, SmtpSink):
        sink.configure(q)
    handles = [spawn(q, "--slots", "2", "--no-kernel") for _ in range(workers)]
    try:
        found = []
        for i in range(JOBS):
            job = q.submit(["true"], notify=[target]).wait(30)
            found.append(delivered_at(sink, i + 1) - float(job.record.finished_at or 0))
        return found
    finally:
        for handle in handles:
            handle.stop()


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(values) * 1000, "max_ms": max(values) * 1000}


def main() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            smtp = SmtpSink().start()
            try:
                results[f"smtp_{workers}w"] = summary(latencies(
                    Path(tmp) / f"smtp{workers}", "email:alice@example.org", smtp, workers))
            finally:
                smtp.stop()
            hook = WebhookSink().start()
            try:
                results[f"webhook_{workers}w"] = summary(latencies(
                    Path(tmp) / f"hook{workers}", f"webhook:{hook.url}", hook, workers))
            finally:
                hook.stop()
    print(f"bench_notifications: end of a job -> delivery, {JOBS} jobs one at a time"
          f" (notifier look every {POLL_S:g} s)")
    for name, figures in results.items():
        print(f"  {name:<12} p50 {figures['p50_ms']:7.1f} ms   max {figures['max_ms']:7.1f} ms")
    return results


if __name__ == "__main__":
    main()
