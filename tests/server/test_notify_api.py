"""The REST submit route takes ``notify`` and ``notify_on`` like every other door, and refuses a
bad target with 400 and nothing queued."""
from __future__ import annotations

from typing import Any

import jobmagics

HOOK = "webhook:https://chat.example.org/hooks/abc"


async def test_a_job_is_submitted_with_its_notification_targets(
        api: Any, q: jobmagics.Queue) -> None:
    status, body = await api("POST", "jobs", {
        "command": ["true"], "notify": ["email:alice@example.org", HOOK],
        "notify_on": "failure"})
    assert status == 201, body
    assert body["job"]["notify"] == ["email:alice@example.org", HOOK]
    assert body["job"]["notify_on"] == "failure"
    assert q.get(body["job"]["id"]).record.notify_on == "failure"


async def test_a_bad_target_is_400_and_nothing_is_queued(api: Any, q: jobmagics.Queue) -> None:
    status, body = await api("POST", "jobs", {"command": ["true"], "notify": ["pager:42"]})
    assert status == 400
    assert "is not email:ADDRESS or webhook:http(s)://URL" in str(body)
    status, body = await api("POST", "jobs", {"command": ["true"], "notify": [HOOK],
                                              "notify_on": "sometimes"})
    assert status == 400 and "notify_on" in str(body)
    assert q.count() == 0
