"""Each attack of issue 10, tried for real by a member of the lab group against a system
queue's real service: it is refused, and nothing changed (the rows, results and settings as
root reads them are the same before and after).

The attacker is jmtest_bob, the victim jmtest_alice, both members of the queue's group."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from tests.accounts import submit_as
from tests.conftest import wait_for
from tests.service.running import HELD, SECRET, Lab, cli_as, run_as, snapshot

pytestmark = pytest.mark.usefixtures("service")

RABI = "jobmagics.experiments.builtin:Rabi"

# what every attacker's script starts with: attempt(what, action) records how it went
ATTEMPTS = """
import json, os, sys, jobmagics
outcomes = {}
def attempt(what, action):
    try:
        outcomes[what] = ["done", repr(action())]
    except Exception as exc:
        outcomes[what] = [type(exc).__name__, str(exc)]
"""


def attempts(user: str, body: str, *args: str) -> dict[str, list[str]]:
    """Run the attempts of ``body`` as ``user``: {what: [outcome, message]}."""
    ran = run_as(user, ATTEMPTS + body + "\nprint(json.dumps(outcomes))", *args)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.splitlines()[-1])


def cancel_as(user: str, queue: Path, job_id: str) -> None:
    """The owner cancels its own job (as a test tidies up)."""
    ran = run_as(user, "import sys, jobmagics; jobmagics.Queue(sys.argv[1]).cancel(sys.argv[2])",
                 str(queue), job_id)
    assert ran.returncode == 0, ran.stderr


def refused(outcomes: dict[str, list[str]], error: str = "PermissionDenied") -> None:
    done = {what: outcome for what, outcome in outcomes.items() if outcome[0] != error}
    assert not done, f"not refused with {error}: {done}"


def one_line_refusal(result: Any, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# ---- the database ------------------------------------------------------------------------
SQL_ATTACKS = """
import sqlite3
db, victim, own = sys.argv[1:4]
def sql(statement, *params):
    conn = sqlite3.connect(db, timeout=1)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()
attempt("rewrite the victim's command", lambda: sql(
    "UPDATE jobs SET command = ? WHERE id = ?", '["sh", "-c", "id > /tmp/owned"]', victim))
attempt("pass --only-user with its own job", lambda: sql(
    "UPDATE jobs SET user = 'jmtest_alice' WHERE id = ?", own))
attempt("add itself to the admins", lambda: sql(
    "UPDATE settings SET value = '[\\"jmtest_bob\\"]' WHERE key = 'admins'"))
attempt("read the victim's env", lambda: sql("SELECT env FROM jobs WHERE id = ?", victim))
attempt("read it read-only", lambda: sqlite3.connect(
    f"file:{db}?mode=ro", uri=True).execute("SELECT env FROM jobs").fetchall())
"""
FILE_ATTACKS = """
root = sys.argv[1]
attempt("replace the database", lambda: os.rename("/etc/hostname", f"{root}/jobs.db"))
attempt("write a file into the queue folder", lambda: open(f"{root}/jobs.db.new", "w"))
attempt("write the write-ahead log", lambda: open(f"{root}/jobs.db-wal", "ab"))
attempt("plant a result", lambda: open(f"{root}/results/{sys.argv[2]}", "wb"))
attempt("rewrite the victim's log", lambda: open(f"{root}/logs/{sys.argv[2]}.log", "ab"))
"""


def test_a_member_cannot_open_the_database_to_rewrite_jobs_or_settings(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    victim = submit_as(lab.alice, system_queue, **HELD, env={"TOKEN": SECRET})
    own = submit_as(lab.bob, system_queue, **HELD)
    before = snapshot(root_queue)
    outcomes = attempts(lab.bob, SQL_ATTACKS, str(system_queue / "jobs.db"), victim, own)
    refused(outcomes, "OperationalError")
    assert all("unable to open database file" in message for _, message in outcomes.values())
    assert snapshot(root_queue) == before


def test_a_member_cannot_replace_or_write_the_queues_files(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    victim = submit_as(lab.alice, system_queue, **HELD)
    before = snapshot(root_queue)
    refused(attempts(lab.bob, FILE_ATTACKS, str(system_queue), victim), "PermissionError")
    assert snapshot(root_queue) == before


# ---- lying about who you are ------------------------------------------------------------
RAW_REQUESTS = """
import socket
from pathlib import Path
from jobmagics.paths import QueueLayout
from jobmagics.service import protocol
from jobmagics.service.remote import RemoteStore
root, victim = sys.argv[1:3]
layout = QueueLayout(Path(root))
def ask(op, *args, **kwargs):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(layout.socket))
        protocol.send(sock, {"op": op, "args": list(args), "kwargs": kwargs})
        answer = protocol.receive(sock)
    if "error" in answer:
        raise protocol.error_from_wire(answer["error"])
    return answer["ok"]
spec = {"kind": "command", "command": ["true"], "cwd": "/tmp", "held": True}
attempt("submit with a user field", lambda: ask("submit", [{**spec, "user": "jmtest_alice"}]))
attempt("submit with a user keyword", lambda: ask("submit", [spec], user="jmtest_alice"))
attempt("cancel as the victim", lambda: ask("apply", "cancel", [victim], actor="jmtest_alice"))
attempt("claim the victim's job", lambda: ask("claim", "worker", 1))
attempt("unpause through a setting", lambda: ask("set_setting", "paused", 0))
store = RemoteStore(layout)
attempt("cancel with actor=", lambda: store.apply("cancel", [victim], actor="jmtest_alice"))
built, _ = jobmagics.Queue(root)._spec(command=["true"], cwd="/tmp", hold=True)
print("submitted", store.submit([built], user="jmtest_alice", host="elsewhere")[0])
"""


def test_a_member_who_names_another_user_in_a_request_gets_a_job_of_its_own(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    victim = submit_as(lab.alice, system_queue, **HELD)
    before = snapshot(root_queue)
    ran = run_as(lab.bob, ATTEMPTS + RAW_REQUESTS + "\nprint(json.dumps(outcomes))",
                 str(system_queue), victim)
    assert ran.returncode == 0, ran.stderr
    submitted_line, outcomes_line = ran.stdout.splitlines()[-2:]
    outcomes = json.loads(outcomes_line)
    assert [o[0] for o in outcomes.values()] == [
        "InvalidJob", "InvalidJob", "InvalidJob", "QueueError", "PermissionDenied",
        "PermissionDenied"], outcomes
    assert "unknown field 'user'" in outcomes["submit with a user field"][1]
    assert "jmtest_bob may not cancel" in outcomes["cancel with actor="][1]
    job_id = submitted_line.removeprefix("submitted ")
    record = root_queue.get(job_id).record
    assert (record.user, record.host) == (lab.bob, root_queue.host)
    after = snapshot(root_queue)
    del after["jobs"][job_id], after["results"][job_id]
    assert after == before


def test_a_worker_started_by_a_member_cannot_take_another_members_jobs(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    submit_as(lab.alice, system_queue, command=["true"], cwd="/tmp", hold=True)
    before = snapshot(root_queue)
    worker = cli_as(lab.bob, system_queue, "worker", "--only-user", lab.alice, "--drain",
                    "--no-kernel")
    one_line_refusal(worker, f"{system_queue} is a system queue")
    assert snapshot(root_queue) == before


# ---- the admins' powers -----------------------------------------------------------------
ADMIN_POWERS = f"""
q = jobmagics.Queue(sys.argv[1])
attempt("add itself to the admins", lambda: q.add_admin("jmtest_bob"))
attempt("remove an admin", lambda: q.remove_admin("jmtest_alice"))
attempt("add itself to the operators", lambda: q.add_operator("jmtest_bob"))
attempt("allow an experiment", lambda: q.allow_experiment("{RABI}"))
attempt("pause the queue", q.pause)
attempt("pause the instrument", lambda: q.pause("hardware"))
attempt("resume the queue", q.resume)
"""


def test_a_member_cannot_use_an_admins_powers_through_the_api(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    root_queue.add_admin(lab.alice)
    before = snapshot(root_queue)
    outcomes = attempts(lab.bob, ADMIN_POWERS, str(system_queue))
    refused(outcomes)
    assert "only a queue admin may" in outcomes["add itself to the admins"][1]
    assert snapshot(root_queue) == before


@pytest.mark.parametrize("argv", [
    ["admin", "add", "jmtest_bob"], ["admin", "operators", "add", "jmtest_bob"],
    ["allow", "add", RABI], ["pause"], ["pause", "--resource", "hardware"], ["resume"],
], ids=" ".join)
def test_a_member_cannot_use_an_admins_powers_through_the_cli(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, argv: list[str]) -> None:
    before = snapshot(root_queue)
    one_line_refusal(cli_as(lab.bob, system_queue, *argv), "jmtest_bob may not")
    assert snapshot(root_queue) == before


# ---- another member's jobs --------------------------------------------------------------
@pytest.mark.parametrize("verb", ["cancel", "hold", "release", "retry", "delete"])
def test_a_member_cannot_move_another_members_job_alone_or_among_its_own(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, verb: str) -> None:
    victim = submit_as(lab.alice, system_queue, **HELD)
    own = submit_as(lab.bob, system_queue, **HELD)
    if verb in ("retry", "delete"):                   # they act on finished jobs
        cancel_as(lab.alice, system_queue, victim)
        cancel_as(lab.bob, system_queue, own)
    before = snapshot(root_queue)
    one_line_refusal(cli_as(lab.bob, system_queue, verb, victim),
                     f"jmtest_bob may not {verb} {victim}", "belongs to jmtest_alice")
    one_line_refusal(cli_as(lab.bob, system_queue, verb, own, victim), "belongs to jmtest_alice")
    outcomes = attempts(lab.bob, f"""
q = jobmagics.Queue(sys.argv[1])
attempt("{verb}", lambda: q.{verb}(sys.argv[2]))
attempt("{verb} with its own", lambda: q.apply("{verb}", [sys.argv[3], sys.argv[2]]))
""", str(system_queue), victim, own)
    refused(outcomes)
    assert snapshot(root_queue) == before


# ---- secrets ----------------------------------------------------------------------------
READ_SECRETS = """
q, job_id = jobmagics.Queue(sys.argv[1]), sys.argv[2]
def seen(record):
    return {"env": record.env, "code": record.code}
attempt("get", lambda: seen(q.get(job_id).record))
attempt("jobs", lambda: [seen(job.record) for job in q.jobs() if job.id == job_id])
attempt("queue", lambda: [seen(job.record) for job in q.queue(limit=None) if job.id == job_id])
attempt("payload", lambda: q.store.payload(job_id))
"""


def test_another_members_env_code_and_payload_are_hidden_at_every_door(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    code = f"print('{SECRET}')"
    victim = submit_as(lab.alice, system_queue, code=code, env={"TOKEN": SECRET}, hold=True,
                       cwd="/tmp")
    outcomes = attempts(lab.bob, READ_SECRETS, str(system_queue), victim)
    assert outcomes["payload"][0] == "PermissionDenied", outcomes
    del outcomes["payload"]
    assert all(o[0] == "done" for o in outcomes.values()), outcomes
    assert SECRET not in json.dumps(outcomes) and "hidden" in outcomes["get"][1]
    status = cli_as(lab.bob, system_queue, "status", victim, "--json")
    assert status.returncode == 0, status.stderr
    assert SECRET not in status.stdout and "TOKEN" not in status.stdout
    listing = cli_as(lab.bob, system_queue, "queue", "--json")
    assert victim in listing.stdout and SECRET not in listing.stdout


@pytest.mark.parametrize("reader", ["owner", "admin"])
def test_the_owner_and_an_admin_read_a_jobs_env_and_code(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue, reader: str) -> None:
    code = f"print('{SECRET}')"
    victim = submit_as(lab.alice, system_queue, code=code, env={"TOKEN": SECRET}, hold=True,
                       cwd="/tmp")
    user = lab.alice if reader == "owner" else lab.bob
    if reader == "admin":
        root_queue.add_admin(lab.bob)
    outcomes = attempts(user, READ_SECRETS, str(system_queue), victim)
    assert all(o[0] == "done" for o in outcomes.values()), outcomes
    expected = repr({"env": {"TOKEN": SECRET}, "code": code})
    assert outcomes["get"][1] == expected and outcomes["jobs"][1] == f"[{expected}]"
    status = cli_as(user, system_queue, "status", victim, "--json")
    assert SECRET in status.stdout, status.stderr


# ---- results ----------------------------------------------------------------------------
RESULTS = """
import cloudpickle
q, job_id = jobmagics.Queue(sys.argv[1]), sys.argv[2]
attempt("result", lambda: q.get(job_id).result(60))
attempt("trusted result", lambda: q.get(job_id).result(60, trust=True))
attempt("the stored result, untrusted", lambda: q.store.result(job_id))
planted = cloudpickle.dumps(42)
attempt("save a result", lambda: q.store.save_result(job_id, True, planted))
attempt("report progress", lambda: q.store.set_progress(job_id, 0.5, "owned"))
"""


def test_another_members_result_is_refused_unless_trusted_and_cannot_be_replaced(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    victim = run_as(lab.alice, "import operator, sys, jobmagics\n"
                    "job = jobmagics.Queue(sys.argv[1]).submit(function=operator.mul,"
                    " args=(6, 7), cwd='/tmp')\nprint(job.id, job.result(60))", str(system_queue))
    assert victim.returncode == 0, victim.stderr
    job_id, value = victim.stdout.split()
    assert value == "42"
    before = snapshot(root_queue)
    outcomes = attempts(lab.bob, RESULTS, str(system_queue), job_id)
    assert outcomes.pop("trusted result") == ["done", "42"]
    assert "result(trust=True)" in outcomes["result"][1]
    refused(outcomes)
    assert snapshot(root_queue) == before


def test_a_member_cannot_report_for_another_members_running_job(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    victim = submit_as(lab.alice, system_queue, command=["sleep", "60"], cwd="/tmp")
    wait_for(lambda: root_queue.get(victim).state == "running", 60)
    env = {"JOBMAGICS_JOB_ID": victim, "JOBMAGICS_QUEUE": str(system_queue)}
    ran = run_as(lab.bob, ATTEMPTS + """
import cloudpickle
from jobmagics import context
q, job_id = jobmagics.Queue(sys.argv[1]), sys.argv[2]
attempt("progress() with the victim's id", lambda: context.progress(0.5, "owned"))
attempt("set_progress", lambda: q.store.set_progress(job_id, 0.9, "owned"))
attempt("save_result", lambda: q.store.save_result(job_id, True, cloudpickle.dumps(1)))
print(json.dumps(outcomes))
""", str(system_queue), victim, env=env)
    assert ran.returncode == 0, ran.stderr
    outcomes = json.loads(ran.stdout.splitlines()[-1])
    refused(outcomes)
    assert "jmtest_bob may not report for" in outcomes["set_progress"][1]
    record = root_queue.get(victim).record
    assert (record.progress, record.stage, root_queue.store.result(victim)) == (None, None, None)
    cancel_as(lab.alice, system_queue, victim)



# ---- the instrument's shared kernel -----------------------------------------------------
INSTRUMENT = f"""
q = jobmagics.Queue(sys.argv[1])
attempt("python on the instrument", lambda: q.submit(
    code="import os; os.system('id')", resources=["hardware"], hold=True, cwd="/tmp").id)
attempt("an experiment not allowed", lambda: q.submit(
    experiment="{RABI}", resources=["hardware"], hold=True, cwd="/tmp").id)
"""


def test_only_operators_run_python_on_the_instrument_and_others_only_allowed_experiments(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    before = snapshot(root_queue)
    outcomes = attempts(lab.bob, INSTRUMENT, str(system_queue))
    refused(outcomes)
    assert "jobmagics admin operators add jmtest_bob" in outcomes["python on the instrument"][1]
    assert "allowed experiments" in outcomes["an experiment not allowed"][1]
    assert snapshot(root_queue) == before
    root_queue.allow_experiment(RABI)
    allowed = attempts(lab.bob, INSTRUMENT, str(system_queue))
    assert allowed["an experiment not allowed"][0] == "done", allowed
    assert allowed["python on the instrument"][0] == "PermissionDenied", allowed
    root_queue.add_operator(lab.bob)
    operator = attempts(lab.bob, INSTRUMENT, str(system_queue))
    assert [o[0] for o in operator.values()] == ["done", "done"], operator
    owners = {root_queue.get(o[1].strip("'")).user for o in operator.values()}
    assert owners == {lab.bob}


# ---- outside the group ------------------------------------------------------------------
OUTSIDE = """
import socket
from pathlib import Path
from jobmagics.paths import QueueLayout
root = Path(sys.argv[1])
attempt("open the queue", lambda: jobmagics.Queue(root).count())
def connect():
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(QueueLayout(root).socket))
attempt("connect to the service", connect)
"""


def test_an_account_outside_the_group_cannot_reach_the_service_and_is_told_the_group(
        lab: Lab, system_queue: Path, root_queue: jobmagics.Queue) -> None:
    before = snapshot(root_queue)
    outcomes = attempts(lab.outsider, OUTSIDE, str(system_queue))
    assert outcomes["connect to the service"][0] == "PermissionError", outcomes
    assert outcomes["open the queue"][0] == "QueueError", outcomes
    assert lab.group in outcomes["open the queue"][1]
    assert f"ask its admin to add {lab.outsider} to that group" in outcomes["open the queue"][1]
    one_line_refusal(cli_as(lab.outsider, system_queue, "queue"), lab.group, str(system_queue))
    one_line_refusal(cli_as(lab.outsider, system_queue, "submit", "--", "true"), lab.group)
    assert snapshot(root_queue) == before


def test_the_services_own_account_may_move_a_members_job(lab: Lab, system_queue: Path,
                                                          root_queue: jobmagics.Queue) -> None:
    """Root (the account the service runs as) is the queue's manager: what the service lets an
    admin do, root's own Queue does straight in the database."""
    victim = submit_as(lab.alice, system_queue, **HELD)
    assert root_queue.cancel(victim) is jobmagics.State.CANCELLED
