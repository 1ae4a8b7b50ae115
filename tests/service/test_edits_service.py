"""Moving and changing jobs as real accounts, in a group queue (members write the database)
and in a system queue (its service decides who may): only the owner or a queue admin may, the
job's history names who did, and a change through the service passes the instrument policy a
submission passes."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jobmagics
from tests.accounts import as_account
from tests.service.running import Lab, run_as
from tests.test_permissions import SUBMIT, accounts, as_user, shared_queue  # noqa: F401

EDITS = ("import json, sys, jobmagics\n"
         "q, job_id, outcomes = jobmagics.Queue(sys.argv[1]), sys.argv[2], {}\n"
         "for what, act in (('move', lambda: q.move(job_id, top=True)),\n"
         "                  ('update', lambda: q.update(job_id, priority=3))):\n"
         "    try:\n"
         "        act(); outcomes[what] = 'done'\n"
         "    except jobmagics.JobmagicsError as exc:\n"
         "        outcomes[what] = type(exc).__name__ + ': ' + str(exc)\n"
         "print(json.dumps(outcomes))")


def cli(user: str, queue: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(as_account(user, "-m", "jobmagics", "--queue", str(queue), *argv),
                          capture_output=True, text=True, cwd="/tmp", check=False, timeout=60)


def edits_as(user: str, queue: Path, job_id: str) -> dict[str, str]:
    ran = subprocess.run(as_account(user, "-c", EDITS, str(queue), job_id), capture_output=True,
                         text=True, cwd="/tmp", check=False, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return dict(json.loads(ran.stdout.splitlines()[-1]))


def test_another_member_may_not_move_or_change_a_job(shared_queue: Path) -> None:  # noqa: F811
    job_id = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    as_user("jmalice", SUBMIT, shared_queue)
    q = jobmagics.Queue(shared_queue)
    before = (q.get(job_id).record, q.events(job_id))
    for argv, verb in ((["move", job_id, "--top"], "move"),
                       (["set", job_id, "--priority", "3"], "change")):
        refused = cli("jmdave", shared_queue, *argv)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"jmdave may not {verb} {job_id}: it belongs to jmalice" in refused.stderr
    outcomes = edits_as("jmdave", shared_queue, job_id)
    assert all(o.startswith("PermissionDenied: jmdave may not") for o in outcomes.values())
    assert (q.get(job_id).record, q.events(job_id)) == before


def test_the_owner_and_a_queue_admin_may_and_the_history_names_them(
        shared_queue: Path) -> None:  # noqa: F811
    first = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    second = as_user("jmalice", SUBMIT, shared_queue).stdout.strip()
    moved = cli("jmalice", shared_queue, "move", second, "--top")
    assert moved.returncode == 0, moved.stderr
    changed = cli("jmbob", shared_queue, "set", first, second, "--priority", "4", "--name", "x")
    assert changed.returncode == 0, changed.stderr
    q = jobmagics.Queue(shared_queue)
    assert [e["detail"] for e in q.events(second)][1:] == [
        "jmalice moved it to the top", "jmbob set name none -> x, priority 0 -> 4"]
    assert [(j.id, j.last_read.priority) for j in q.queue()] == [(first, 4), (second, 4)]
    status = cli("jmdave", shared_queue, "status", second)
    assert "jmbob set name none -> x, priority 0 -> 4" in status.stdout, status.stderr


def test_an_edit_through_the_service_passes_the_instrument_policy(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, service: object) -> None:
    """Bob may not run his own python in the instrument's shared kernel: giving a held python
    job the instrument's resource afterwards is refused as its submission would be."""
    ran = run_as(lab.bob, "import sys, jobmagics; print(jobmagics.Queue(sys.argv[1]).submit("
                          "code='print(1)', hold=True, cwd='/tmp').id)", str(system_queue))
    assert ran.returncode == 0, ran.stderr
    job_id = ran.stdout.strip()
    before = (root_queue.get(job_id).record, root_queue.events(job_id))
    refused = cli(lab.bob, system_queue, "set", job_id, "--resource", "hardware")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "jobmagics admin operators add jmtest_bob" in refused.stderr
    assert (root_queue.get(job_id).record, root_queue.events(job_id)) == before
    root_queue.add_operator(lab.bob)
    allowed = cli(lab.bob, system_queue, "set", job_id, "--resource", "hardware")
    assert allowed.returncode == 0, allowed.stderr
    assert root_queue.get(job_id).record.resources == ["hardware"]


RAW = """
import json, socket, sys
from jobmagics.service import protocol
def ask(op, *args, **kwargs):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(sys.argv[1] + "/service.sock")
        protocol.send(sock, {"op": op, "args": list(args), "kwargs": kwargs})
        answer = protocol.receive(sock)
    return answer.get("error", ["done", ""])
job = sys.argv[2]
print(json.dumps({
    "actor named": ask("update", [job], {"priority": 9}, None, actor=sys.argv[3]),
    "manager claimed": ask("move", job, "top", None, manager=True),
    "a setting not editable": ask("update", [job], {"user": "jmtest_bob"}, None),
    "a wrong type": ask("update", [job], {"priority": [9]}, None),
    "a place not known": ask("move", job, ["top"], None),
    "not a list of ids": ask("update", job, {"priority": 9}, None),
}))
"""


def test_the_service_takes_the_caller_from_the_socket_and_checks_every_value(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, service: object) -> None:
    ran = run_as(lab.alice, "import sys, jobmagics; print(jobmagics.Queue(sys.argv[1]).submit("
                            "command=['true'], hold=True, cwd='/tmp').id)", str(system_queue))
    job_id = ran.stdout.strip()
    before = (root_queue.get(job_id).record, root_queue.events(job_id))
    by_bob = run_as(lab.bob, RAW, str(system_queue), job_id, lab.alice)
    by_alice = run_as(lab.alice, RAW, str(system_queue), job_id, lab.bob)
    assert by_bob.returncode == 0 and by_alice.returncode == 0, by_bob.stderr + by_alice.stderr
    bob, alice = (json.loads(ran.stdout.splitlines()[-1]) for ran in (by_bob, by_alice))
    assert bob["actor named"][0] == bob["manager claimed"][0] == "InvalidJob"
    assert "malformed request" in bob["actor named"][1] + bob["manager claimed"][1]
    assert bob["a setting not editable"][0] == "PermissionDenied"     # not his, whatever asked
    assert all(kind == "InvalidJob" for kind, _ in alice.values()), alice
    assert "'user' cannot be changed" in alice["a setting not editable"][1]
    assert "priority must be a whole number" in alice["a wrong type"][1]
    assert (root_queue.get(job_id).record, root_queue.events(job_id)) == before
