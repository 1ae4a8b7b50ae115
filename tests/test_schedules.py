"""Recurring schedules through the Python API: a schedule is checked as ``submit`` checks a
job, its runs are ordinary jobs of its owner submitted by a real worker, the overlap policy,
the verbs on several schedules at once (all or none), and a calibration chain that runs an
experiment and saves a config from its fit."""
from __future__ import annotations

import re
import textwrap
import time
from datetime import datetime

import pytest

import jobmagics
from jobmagics.configs import load_config, save_config
from jobmagics.errors import InvalidJob, PermissionDenied, ScheduleNotFound
from jobmagics.model import State
from tests.conftest import wait_for

DUE_RE = re.compile(r"\(schedule (\S+), due (\S+)\)")


def due_time(queue: jobmagics.Queue, job_id: str) -> float:
    """The due time a scheduled job was submitted for, as its submission event names it."""
    detail = queue.events(job_id)[0]["detail"]
    found = DUE_RE.search(detail)
    assert found, detail
    return datetime.fromisoformat(found.group(2)).timestamp()


def test_a_due_run_is_submitted_by_a_worker_as_an_ordinary_job_of_the_owner(queue, worker):
    schedule = queue.schedule("tick", every="1s", command=["echo", "tick"])
    job = wait_for(lambda: schedule.runs() and schedule.runs()[-1], timeout=20)
    assert job.wait(30).state is State.COMPLETED
    record = job.record
    assert (record.schedule, record.user, record.name) == ("tick", queue.user, "tick")
    assert job.log().strip() == "tick"
    assert abs(due_time(queue, job.id) - (schedule.last_read.created_at + 1.0)) < 1e-3
    assert schedule.refresh().last_read.next_at > record.submitted_at


def test_list_shows_the_next_run_and_the_last_one_with_its_state(queue):
    schedule = queue.schedule("nightly", cron="0 3 * * *", tz="Europe/Berlin",
                              code="print('fit')")
    job = schedule.run_now()
    (listed,) = queue.schedules()
    record = listed.last_read
    assert (record.name, record.user, record.tz, record.what) == (
        "nightly", queue.user, "Europe/Berlin", "print('fit')")
    assert (record.last_job, record.last_state) == (job.id, "pending")
    assert record.next_at > time.time() and not record.paused
    assert record.rhythm.describe() == "cron 0 3 * * * (Europe/Berlin)"


@pytest.mark.parametrize(("submission", "message"), [
    ({"command": ["true"], "priority": "high"}, "priority"),
    ({"command": ["true"], "resources": ["nosuch"]}, "unknown resource"),
    ({"code": "def broken(:"}, "does not compile"),
    ({"command": ["true"], "colour": "red"}, "unknown submit option"),
    ({}, "command"),
    ({"command": ["true"], "after": ["JOB-20200101-00001"]}, "no such job"),
    ({"command": ["true"], "notify": ["pigeon:home"]}, "notify target"),
])
def test_a_schedule_is_checked_as_submit_checks_a_job_and_nothing_is_stored(
        queue, submission, message):
    with pytest.raises(InvalidJob, match=message):
        queue.schedule("bad", every="1h", **submission)
    assert queue.schedules() == [] and queue.count() == 0


@pytest.mark.parametrize(("rhythm", "message"), [
    ({"every": "0"}, "every must be"), ({"every": "1x"}, "bad duration"),
    ({"cron": "61 * * * *"}, "cron"), ({"cron": "0 * * * *", "tz": "Mars/Base"}, "time zone"),
    ({}, "exactly one"), ({"every": "1h", "overlap": "sometimes"}, "overlap")])
def test_a_bad_rhythm_is_refused_and_nothing_is_stored(queue, rhythm, message):
    with pytest.raises(InvalidJob, match=message):
        queue.schedule("bad", command=["true"], **rhythm)
    assert queue.schedules() == []


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "x" * 65, 5])
def test_a_bad_schedule_name_is_refused(queue, name):
    with pytest.raises(InvalidJob, match="schedule name"):
        queue.schedule(name, every="1h", command=["true"])


def test_a_taken_name_is_refused_and_the_first_schedule_is_unchanged(queue):
    queue.schedule("fit", every="1h", command=["first"])
    with pytest.raises(InvalidJob, match="exists already"):
        queue.schedule("fit", every="2h", command=["second"])
    (only,) = queue.schedules()
    assert (only.last_read.what, only.last_read.every) == ("first", 3600.0)


def test_a_verb_on_several_schedules_checks_all_before_acting_on_any(queue):
    queue.schedule("a", every="1h", command=["true"])
    queue.schedule("b", every="1h", command=["true"])
    with pytest.raises(ScheduleNotFound, match="nope"):
        queue.act_on_schedules("pause", ["a", "nope", "b"])
    assert not any(s.last_read.paused for s in queue.schedules())
    with pytest.raises(ScheduleNotFound):
        queue.act_on_schedules("run-now", ["a", "nope"])
    assert queue.count() == 0
    queue.act_on_schedules("pause", ["a", "b"])
    assert all(s.last_read.paused for s in queue.schedules())


def test_a_paused_schedule_submits_nothing_and_resumes_from_its_next_due_time(queue):
    schedule = queue.schedule("p", every="10s", command=["true"])
    schedule.pause()
    later = time.time() + 35
    assert queue.store.fire_due(later) == []
    schedule.resume()
    assert 0 < schedule.next_at - time.time() <= 10.0 + 1e-6
    assert queue.count() == 0


def test_remove_deletes_the_schedule_and_keeps_its_jobs(queue):
    schedule = queue.schedule("gone", every="1h", command=["true"])
    job = schedule.run_now()
    schedule.remove()
    assert queue.schedules() == []
    assert queue.get(job.id).record.schedule == "gone"
    with pytest.raises(ScheduleNotFound):
        queue.get_schedule("gone")


def test_only_the_owner_or_an_admin_acts_on_a_schedule(queue):
    queue.schedule("mine", every="1h", command=["true"])
    with pytest.raises(PermissionDenied, match="belongs to"):
        queue.store.act_on_schedules("pause", ["mine"], "mallory")
    assert not queue.get_schedule("mine").last_read.paused
    queue.store.set_setting("admins", ["boss"])
    queue.store.act_on_schedules("pause", ["mine"], "boss")
    assert queue.get_schedule("mine").last_read.paused


def test_a_late_tick_submits_one_run_for_all_the_due_times_it_missed(queue):
    schedule = queue.schedule("late", every="10s", command=["true"])
    created = schedule.last_read.created_at
    (fired,) = queue.store.fire_due(created + 35.0)
    assert len(fired.job_ids) == 1 and fired.due == pytest.approx(created + 10.0)
    assert "one run for 3 due times" in fired.note
    assert schedule.next_at == pytest.approx(created + 40.0)     # still on its grid
    assert queue.store.fire_due(created + 39.0) == []


def test_skip_leaves_out_a_tick_while_the_previous_run_still_runs(queue, worker):
    schedule = queue.schedule("long", every="1h", command=["sleep", "60"])
    first = schedule.run_now()
    wait_for(lambda: first.refresh().state is State.RUNNING, timeout=20)
    (fired,) = queue.store.fire_due(schedule.next_at)
    assert fired.job_ids == []
    assert fired.note.startswith("skipped") and f"{first.id} still running" in fired.note
    assert [j.id for j in schedule.runs()] == [first.id]
    first.cancel()


def test_queue_submits_a_tick_even_while_the_previous_run_still_runs(queue, worker):
    schedule = queue.schedule("long", every="1h", overlap="queue", command=["sleep", "60"])
    first = schedule.run_now()
    wait_for(lambda: first.refresh().state is State.RUNNING, timeout=20)
    (fired,) = queue.store.fire_due(schedule.next_at)
    assert len(fired.job_ids) == 1
    assert [j.id for j in schedule.runs()] == [fired.job_ids[0], first.id]
    queue.apply("cancel", [first.id, fired.job_ids[0]])


# The calibration of the README: every 2 h, run Rabi, then save the qubit's config with the
# pi pulse its fit found. The second step runs after the first (a chain), and reads the
# first's result through its own record.
UPDATE_QUBIT = textwrap.dedent("""
    import jobmagics
    from jobmagics.configs import load_config, save_config

    me = jobmagics.current_job()
    rabi = me.queue.get(me.record.after[0])
    fit = rabi.result()
    qubit = load_config("qubit", queue=me.queue)
    save_config("qubit", {**qubit, "pi_pulse_length": fit["pi_pulse_length"]},
                note=f"from Rabi {rabi.id}", queue=me.queue)
""")


def test_a_calibration_chain_runs_rabi_then_saves_the_qubit_config_from_its_fit(queue, worker):
    save_config("qubit", {"frequency": 5.1e9, "pi_pulse_length": 40e-9}, queue=queue)
    schedule = queue.schedule("calibrate-qubit", every="2h", steps=[
        {"experiment": "jobmagics.experiments:Rabi", "config": {"amplitude": 0.4, "seed": 5},
         "resources": ["hardware"]},
        {"code": UPDATE_QUBIT, "name": "update-qubit"}])
    assert schedule.last_read.steps == 2
    update = schedule.run_now().wait(120)
    assert update.state is State.COMPLETED, update.log()
    rabi = queue.get(update.record.after[0])
    assert rabi.record.schedule == update.record.schedule == "calibrate-qubit"
    qubit = load_config("qubit", queue=queue)
    assert qubit["pi_pulse_length"] == pytest.approx(rabi.result()["pi_pulse_length"])
    assert qubit["frequency"] == 5.1e9
    assert [j.id for j in schedule.runs()] == [update.id, rabi.id]


def test_the_queue_panel_shows_a_schedules_section_only_when_there_are_schedules(queue):
    from jobmagics.widgets import QueuePanel
    panel = QueuePanel(queue)
    try:
        assert panel.schedules.layout.display == "none" and panel.schedules.value == ""
        schedule = queue.schedule("fit", every="5m", command=["true"])
        job = schedule.run_now()
        panel.refresh()
        text = panel.schedules.value
        assert panel.schedules.layout.display == ""
        assert "Schedules" in text and "<b>fit</b>" in text and "every 5m" in text
        assert "(in 4m" in text and job.id in text and "pending" in text
        schedule.pause()
        panel.refresh()
        assert "paused" in panel.schedules.value
        schedule.remove()
        panel.refresh()
        assert panel.schedules.layout.display == "none"
    finally:
        panel.close()


def test_a_function_is_pickled_once_when_the_schedule_is_made_and_called_each_run(
        queue, worker):
    schedule = queue.schedule("double", every="1h", function=lambda x: x * 2, args=(21,))
    first, second = schedule.run_now(), schedule.run_now()
    assert first.result(timeout=60) == second.result(timeout=60) == 42
    assert first.record.kind == "function" and first.record.schedule == "double"
