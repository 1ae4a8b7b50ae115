"""The job widget, the queue panel and their one shared poller."""
from __future__ import annotations

import sqlite3

import pytest

from jobmagics import Queue, State
from jobmagics.widgets import JobWidget, QueuePanel, shared_poller
from jobmagics.widgets.job_widget import INDETERMINATE
from tests.conftest import wait_for

SLOW_WITH_PROGRESS = ("import jobmagics, time\ntime.sleep(0.5)\njobmagics.progress(0.5, stage='half way')\n"
                      "time.sleep(1.0)\nprint('finished')")


@pytest.fixture(autouse=True)
def no_widget_left_behind():
    yield
    for subscriber in shared_poller().subscribers():
        subscriber.close()
    wait_for(lambda: not shared_poller().running, timeout=10)


def test_the_job_widget_follows_a_job_through_its_states_progress_and_output(queue, worker):
    job = queue.submit(code=SLOW_WITH_PROGRESS, name="slow")
    widget = JobWidget(job)
    states, bar, stages = [widget.state], [], []
    widget.header.observe(lambda _c: states.append(widget.state), "value")
    widget.bar.observe(lambda change: bar.append(change.new), "value")
    widget.stage.observe(lambda change: stages.append(change.new), "value")
    assert job.wait(120).state is State.COMPLETED
    wait_for(lambda: widget.state == "completed", timeout=10)
    seen = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
    assert seen[-2:] == ["running", "completed"]
    assert 0.5 in bar and widget.bar.value == 1.0 and widget.bar.bar_style == "success"
    assert "50% half way" in stages
    wait_for(lambda: any("finished" in o.get("text", "") for o in widget.output.outputs), timeout=10)
    assert widget.cancel_button.disabled and widget.retry_button.disabled
    wait_for(lambda: widget not in shared_poller().subscribers(), timeout=10)


def test_a_running_job_that_reports_no_progress_shows_an_indeterminate_bar(queue, worker):
    job = queue.submit(command=["sleep", "30"])
    widget = JobWidget(job)
    wait_for(lambda: widget.state == "running", timeout=30)
    assert INDETERMINATE in widget.bar._dom_classes
    widget.cancel_button.click()
    wait_for(lambda: widget.state == "cancelled", timeout=30)
    assert INDETERMINATE not in widget.bar._dom_classes
    assert not widget.retry_button.disabled


def test_the_retry_button_runs_the_job_again(queue, worker):
    job = queue.submit(command=["false"])
    widget = JobWidget(job)
    wait_for(lambda: widget.state == "failed", timeout=30)
    widget.retry_button.click()
    wait_for(lambda: widget.state == "failed" and job.refresh().attempt == 2, timeout=30)


def test_a_button_that_cannot_act_says_why_in_the_widget(queue):
    job = queue.submit(command=["true"])
    widget = JobWidget(job)
    job.cancel()
    widget.cancel_button.click()
    assert "already cancelled" in widget.message.value


def test_widgets_share_one_poller_that_stops_when_the_last_one_closes(queue):
    first, second = queue.submit(command=["true"]), queue.submit(command=["true"])
    widgets = [JobWidget(first), JobWidget(second), QueuePanel(queue)]
    poller = shared_poller()
    assert poller.running and len(poller.subscribers()) == 3
    import threading
    assert [t.name for t in threading.enumerate()].count("jobmagics-poller") == 1
    for widget in widgets:
        widget.close()
    wait_for(lambda: not poller.running, timeout=10)
    assert poller.errors == type(poller.errors)(maxlen=poller.errors.maxlen)


def test_the_queue_panel_lists_active_jobs_and_history_and_filters_by_state(queue):
    done = queue.submit(command=["true"])
    done.cancel()
    waiting = queue.submit(command=["true"], hold=True)
    pending = queue.submit(command=["true"])
    panel = QueuePanel(queue)
    assert list(panel.rows) == [pending.id, waiting.id, done.id]
    assert [row.state for row in panel.rows.values()] == ["pending", "waiting", "cancelled"]
    assert panel.rows[done.id].cancel_button.disabled
    panel.state_filter.value = "cancelled"
    assert list(panel.rows) == [done.id]
    panel.state_filter.value = ""
    panel.user_filter.value = queue.user
    assert len(panel.rows) == 3
    assert [label for label, _ in panel.user_filter.options] == ["everyone", queue.user]


def test_the_queue_panel_updates_by_itself_and_cancels_from_a_row(queue):
    panel = QueuePanel(queue)
    job = queue.submit(command=["true"])
    wait_for(lambda: job.id in panel.rows, timeout=10)
    panel.rows[job.id].cancel_button.click()
    assert panel.rows[job.id].state == "cancelled"
    assert job.refresh().state is State.CANCELLED


def test_the_poller_holds_no_transaction_open_so_the_wal_can_always_be_checkpointed(queue, queue_dir):
    panel = QueuePanel(queue)
    writer = Queue(queue_dir)
    for _ in range(100):
        writer.submit(command=["true"]).cancel()
    wait_for(lambda: len(panel.rows) == 10, timeout=10)     # the panel kept reading meanwhile
    checker = sqlite3.connect(queue_dir / "jobs.db", isolation_level=None)
    busy, _, _ = checker.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0 and (queue_dir / "jobs.db-wal").stat().st_size == 0
    # the control: a reader that does hold a transaction open blocks exactly this
    reader = sqlite3.connect(queue_dir / "jobs.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM jobs").fetchone()
    writer.submit(command=["true"])
    assert checker.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 1
    reader.execute("ROLLBACK")


# ---- in a real kernel, read from the widget models' comm messages -------------------
def test_in_a_kernel_the_widget_sends_each_state_change_as_comm_messages(kernel, queue, worker):
    cell = kernel.run(f"%%job submit --name watched\n{SLOW_WITH_PROGRESS}")
    assert cell.error is None
    job = queue.get(kernel.value("_job.id"))
    header = kernel.wait_for_model(lambda s: "jobmagics-state-completed" in str(s.get("value", "")), timeout=120)
    assert job.refresh().state is State.COMPLETED
    header_id = next(i for i, s in kernel.models.items() if s is header)
    values = [u["value"] for u in kernel.model_history[header_id] if "value" in u]
    states = [s for v in values for s in ("pending", "running", "completed") if f"jobmagics-state-{s}" in v]
    assert states.index("running") < states.index("completed")
    bars = [s for s in kernel.models.values() if s.get("_model_name") == "FloatProgressModel"]
    assert bars and bars[0]["value"] == 1.0
    outputs = [s for s in kernel.models.values() if s.get("_model_name") == "OutputModel"]
    kernel.wait_for_model(lambda s: any("finished" in o.get("text", "") for o in s.get("outputs", [])))
    assert outputs


def test_in_a_kernel_clicking_cancel_cancels_the_job_and_closing_stops_the_poller(kernel, queue, worker):
    kernel.run("%%job submit --name long\nimport time\ntime.sleep(60)")
    job = queue.get(kernel.value("_job.id"))
    wait_for(lambda: job.refresh().state is State.RUNNING, timeout=60)
    kernel.pump(0.5)
    cancel = next(i for i, s in kernel.models.items() if s.get("description") == "Cancel")
    kernel.send_widget_event(cancel, {"event": "click"})
    assert job.wait(60).state is State.CANCELLED
    kernel.wait_for_model(lambda s: "jobmagics-state-cancelled" in str(s.get("value", "")), timeout=30)
    kernel.run("%%job submit\nimport time\ntime.sleep(60)")
    assert kernel.value("len(__import__('jobmagics.widgets').widgets.shared_poller().subscribers())") == 1
    kernel.run("_job.live_view.close()")
    wait_for(lambda: kernel.value("__import__('jobmagics.widgets').widgets.shared_poller().running") is False,
             timeout=10)
    kernel.run("%job cancel")


def test_the_widget_shows_output_while_the_job_is_still_running(queue, worker):
    job = queue.submit(code="import time\nprint('first line', flush=True)\ntime.sleep(30)")
    widget = JobWidget(job)
    wait_for(lambda: any("first line" in o.get("text", "") for o in widget.output.outputs), timeout=60)
    assert job.refresh().state is State.RUNNING
    job.cancel()
    wait_for(lambda: widget.state == "cancelled", timeout=60)


def test_in_a_kernel_the_queue_panel_shows_every_active_job(kernel, queue):
    held = queue.submit(command=["true"], hold=True, name="someone else's")
    cell = kernel.run("%job queue")
    assert cell.error is None
    assert cell.data("application/vnd.jupyter.widget-view+json")
    kernel.wait_for_model(lambda s: held.id in str(s.get("value", "")) and "jobmagics-state-waiting" in str(s.get("value", "")))
    later = queue.submit(command=["true"], hold=True)
    kernel.wait_for_model(lambda s: later.id in str(s.get("value", "")), timeout=30)


def test_the_widget_plots_the_jobs_data_as_it_is_written(queue, worker):
    job = queue.submit(code=(
        "import time, jobmagics\nfrom jobmagics.data import DataWriter\n"
        "with DataWriter(jobmagics.current_job().data_path) as data:\n"
        "    data.set_plot('x', 'y')\n"
        "    for i in range(20):\n"
        "        data.append(x=i, y=i * i)\n"
        "        time.sleep(0.1)\n"))
    widget = JobWidget(job)
    wait_for(lambda: bytes(widget.plot.image.value).startswith(b"\x89PNG"), timeout=60)
    assert widget.plot.image.layout.display == ""
    assert job.wait(60).state is State.COMPLETED
    wait_for(lambda: widget.state == "completed", timeout=10)
    assert widget.plot.error == ""


def test_a_job_without_data_shows_no_plot(queue, worker):
    job = queue.submit(command=["true"])
    widget = JobWidget(job)
    wait_for(lambda: widget.state == "completed", timeout=30)
    assert widget.plot.image.layout.display == "none" and bytes(widget.plot.image.value) == b""


def test_the_queue_panel_shows_the_first_page_and_how_many_more(queue):
    queue.submit_many([{"command": ["true"]}] * 30 + [{"command": ["true"], "hold": True}] * 4)
    panel = QueuePanel(queue, limit=20, history=5)
    assert len(panel.rows) == 20 and all(row.state == "pending" for row in panel.rows.values())
    assert "and 10 more pending, 4 more waiting" in panel.more.value
    assert "30" in panel.summary.value and "4" in panel.summary.value
    panel.state_filter.value = "waiting"
    assert len(panel.rows) == 4 and panel.more.value == ""
    panel.close()


def test_the_log_follower_keeps_a_character_split_between_two_reads_whole(queue):
    from jobmagics.widgets.follow import OutputFollower
    job = queue.submit(command=["true"])
    follower = OutputFollower(job)
    log = queue.layout.log(job.id)
    log.write_bytes(b"caf\xc3")                 # the first byte of "é" only, so far
    assert follower.read(terminal=False, kind="command")[0]["text"] == "caf"
    with open(log, "ab") as handle:
        handle.write(b"\xa9 \xff!\n")
    assert follower.read(terminal=True, kind="command")[0]["text"] == "café \ufffd!\n"
