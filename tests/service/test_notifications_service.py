"""Notifications and the queue's settings in a system queue, by real accounts: only a queue
admin changes a setting (through the service, which checks the value again), every member
reads them, and a member's job notifies through the service's worker."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import wait_for
from tests.notify_servers import WebhookSink, webhook_sink_fixture  # noqa: F401  (the fixture)
from tests.service.running import Lab, cli_as, run_as

pytestmark = pytest.mark.usefixtures("service")


def test_a_member_who_is_not_an_admin_cannot_change_a_setting(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    refused = cli_as(lab.alice, system_queue, "settings", "set", "smtp.host", "evil.example.org")
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("only a queue admin may (see `jobmagics admin`)")
    assert root_queue.settings()["smtp.host"] is None
    raw = run_as(lab.alice, "import sys, jobmagics\n"
                 "jobmagics.Queue(sys.argv[1]).store.set_queue_setting('smtp.host', 'x.org')",
                 str(system_queue))
    assert "PermissionDenied" in raw.stderr and root_queue.settings()["smtp.host"] is None


def test_an_admin_changes_a_setting_and_every_member_reads_it(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    root_queue.add_admin(lab.bob)
    assert cli_as(lab.bob, system_queue, "settings", "set", "smtp.port", "2525").returncode == 0
    shown = cli_as(lab.alice, system_queue, "settings", "get", "smtp.port")
    assert shown.returncode == 0 and shown.stdout.strip() == "2525"
    listed = cli_as(lab.alice, system_queue, "settings", "--json")
    assert json.loads(listed.stdout)["smtp.port"] == 2525
    assert cli_as(lab.bob, system_queue, "settings", "unset", "smtp.port").returncode == 0
    assert root_queue.settings()["smtp.port"] == 25


def test_the_service_refuses_unknown_keys_and_bad_values_even_from_an_admin(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    root_queue.add_admin(lab.bob)
    admins = root_queue.admins()
    internal = cli_as(lab.bob, system_queue, "settings", "set", "admins", lab.bob)
    assert internal.returncode == 2 and "unknown queue setting 'admins'" in internal.stderr
    raw = run_as(lab.bob, "import sys, jobmagics\n"
                 "jobmagics.Queue(sys.argv[1]).store.set_queue_setting('smtp.port', '0')",
                 str(system_queue))
    assert "0 is not a port number" in raw.stderr
    assert root_queue.admins() == admins and root_queue.settings()["smtp.port"] == 25


def test_a_members_job_notifies_through_the_services_worker(
        lab: Lab, system_queue: Path, webhook_sink: WebhookSink) -> None:
    submitted = cli_as(lab.alice, system_queue, "submit", "--cwd", "/tmp", "--notify",
                       f"webhook:{webhook_sink.url}", "--", "sh", "-c", "exit 4")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    wait_for(lambda: webhook_sink.posts, timeout=60)
    post = webhook_sink.posts[0]["json"]
    assert post["text"] == f"Job {job_id} of {lab.alice} failed: exit code 4"

    def recorded() -> list[dict[str, object]]:
        status = cli_as(lab.alice, system_queue, "status", job_id, "--json")
        shown = json.loads(status.stdout)["notifications"]
        return shown if shown and shown[0]["status"] == "sent" else []

    [sent] = wait_for(recorded, timeout=30)  # type: ignore[misc]
    assert sent["target"] == f"webhook:{webhook_sink.url}" and sent["tries"] == 1
    assert len(webhook_sink.posts) == 1
