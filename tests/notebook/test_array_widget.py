"""The array widget (one array: counts per state as a stacked bar, progress, cancel/retry,
its elements a page at a time, a sweep's live plot) and the queue panel's array rows: with
real workers, and in a real kernel read from the widget models' comm messages."""
from __future__ import annotations

import pytest

from jobmagics import State
from jobmagics.widgets import ArrayWidget, QueuePanel, shared_poller
from jobmagics.widgets.array_elements import PAGE
from tests.conftest import wait_for

SLEEP = ["sleep", "60"]


@pytest.fixture(autouse=True)
def no_widget_left_behind():
    yield
    for subscriber in shared_poller().subscribers():
        subscriber.close()
    wait_for(lambda: not shared_poller().running, timeout=10)


def test_the_array_widget_follows_its_elements_to_the_end_and_then_stops(queue, worker):
    array = queue.submit_array(["sh", "-c", "sleep 0.3; test {index} != 2"], items=range(4),
                               parallel=2, name="four")
    widget = ArrayWidget(array)
    seen = [dict(widget.counts)]
    widget.observe(lambda change: seen.append(dict(change.new)), "counts")
    assert widget in shared_poller().subscribers()
    array.wait(60)
    wait_for(lambda: widget.state == "failed", timeout=10)
    assert widget.counts["completed"] == 3 and widget.counts["failed"] == 1
    assert any(c["running"] for c in seen)              # it was seen on its way
    assert all(c["running"] + c["pending"] <= 2 for c in seen)
    assert widget.bar.value == 1.0 and widget.bar.bar_style == "danger"
    assert "4/4 ended" in widget.progress_label.value
    assert "four" in widget.header.value and array.id in widget.header.value
    assert "3 completed" in widget.stack.value and "1 failed" in widget.stack.value
    assert widget.cancel_button.disabled and not widget.retry_button.disabled
    wait_for(lambda: widget not in shared_poller().subscribers(), timeout=10)


def test_retry_runs_the_failed_elements_only_and_the_widget_follows_again(queue, worker):
    array = queue.submit_array(["sh", "-c", "test {index} != 1"], items=range(3))
    widget = ArrayWidget(array)
    wait_for(lambda: widget.state == "failed", timeout=60)
    widget.retry_button.click()
    assert widget in shared_poller().subscribers()
    wait_for(lambda: array.refresh().done and widget.state == "failed", timeout=60)
    assert array.element(1).attempt == 2 and array.element(0).attempt == 1
    assert widget.message.value == ""


def test_the_cancel_button_cancels_every_element_not_ended(queue):
    array = queue.submit_array(SLEEP, items=range(5), parallel=2)
    widget = ArrayWidget(array)
    assert widget.state == "pending" and not widget.cancel_button.disabled
    assert widget.retry_button.disabled
    widget.cancel_button.click()
    assert widget.state == "cancelled" and widget.counts["cancelled"] == 5
    assert array.refresh().counts["cancelled"] == 5
    assert widget.cancel_button.disabled


def test_a_button_that_cannot_act_says_why_in_the_widget(queue):
    array = queue.submit_array(SLEEP, items=range(2))
    widget = ArrayWidget(array)
    array.cancel()
    widget.cancel_button.click()             # the widget had not seen the cancel yet
    assert "has no element to cancel" in widget.message.value


def test_the_elements_are_listed_a_page_at_a_time_when_expanded(queue):
    array = queue.submit_array(SLEEP, items=range(PAGE + 30), parallel=3)
    widget = ArrayWidget(array)
    elements = widget.elements
    assert elements.rows == [] and elements.body.layout.display == "none"
    elements.toggle.value = True
    assert len(elements.rows) == PAGE and elements.body.layout.display == ""
    assert elements.rows[0].job.id == f"{array.id}_0"
    assert [row.state for row in elements.rows[:4]] == ["pending"] * 3 + ["waiting"]
    assert elements.position.value == f"1 to {PAGE} of {PAGE + 30}"
    assert elements.previous.disabled and not elements.next.disabled
    elements.next.click()
    assert len(elements.rows) == 30 and elements.rows[0].job.id == f"{array.id}_{PAGE}"
    assert elements.next.disabled
    array.element(PAGE + 1).cancel()
    wait_for(lambda: elements.rows[1].state == "cancelled", timeout=10)
    elements.previous.click()
    assert elements.rows[0].job.id == f"{array.id}_0"
    array.cancel()


def test_showing_an_element_opens_its_live_job_widget_one_at_a_time(queue):
    array = queue.submit_array(SLEEP, items=range(3))
    widget = ArrayWidget(array)
    widget.elements.toggle.value = True
    first, second = widget.elements.rows[0], widget.elements.rows[1]
    first.show_button.value = True
    shown = widget.elements.shown
    assert shown is not None and shown.job.id == first.job.id
    assert widget.elements.detail.children == (shown,)
    second.show_button.value = True
    assert widget.elements.shown.job.id == second.job.id and not first.show_button.value
    assert shown.comm is None                           # the first one was closed
    widget.close()
    assert widget.elements.shown is None
    array.cancel()


def test_an_experiment_sweep_plots_one_point_per_completed_element(queue, worker):
    amplitudes = [0.2, 0.5, 0.8]
    array = queue.sweep("jobmagics.experiments:Rabi", base={"points": 21, "reps": 20, "seed": 1},
                        over={"amplitude": amplitudes})
    widget = ArrayWidget(array)
    assert widget.plot is not None and widget.plot.image.layout.display == "none"
    assert array.wait(180).state is State.COMPLETED
    wait_for(lambda: widget.state == "completed", timeout=10)
    wait_for(lambda: len(widget.plot.points) == 3, timeout=10)
    x_name, y_name, traces = widget.plot.series()
    assert (x_name, y_name) == ("amplitude", "rabi_frequency")
    assert [x for x, _ in traces[""]] == amplitudes
    assert bytes(widget.plot.image.value).startswith(b"\x89PNG")
    assert widget.plot.image.layout.display == "" and widget.plot.error == ""


def test_a_command_array_has_no_plot(queue):
    widget = ArrayWidget(queue.submit_array(SLEEP, items=range(2)))
    assert widget.plot is None
    widget.array.cancel()


def test_the_queue_panel_shows_an_array_as_one_row_and_cancels_it(queue):
    plain = queue.submit(SLEEP)
    array = queue.submit_array(SLEEP, items=range(4), parallel=1, name="grid")
    panel = QueuePanel(queue)
    assert list(panel.rows)[:2] == [array.id, plain.id]
    assert not any(key.startswith(f"{array.id}_") for key in panel.rows)
    row = panel.rows[array.id]
    assert row.state == "pending" and "0/4 ended" in row.cells.value and "grid" in row.cells.value
    assert "1 pending" in row.stack.value and "3 waiting" in row.stack.value
    assert "1 active arrays" in panel.summary.value
    row.cancel_button.click()
    assert array.refresh().state is State.CANCELLED
    # the array stays a row, finished now: below the active jobs, above the history
    assert list(panel.rows)[:2] == [plain.id, array.id]
    assert panel.rows[array.id].state == "cancelled"
    queue.cancel(plain.id)


def test_the_queue_panels_history_shows_a_finished_array_as_one_row_not_its_elements(queue):
    before = queue.submit(SLEEP, name="before")
    before.cancel()
    array = queue.submit_array(SLEEP, items=range(30), name="many")
    array.cancel()
    after = queue.submit(SLEEP, name="after")
    after.cancel()
    active = queue.submit(SLEEP, name="active")
    panel = QueuePanel(queue, history=5)
    # the active job, the finished array above the history, the history without elements
    assert list(panel.rows) == [active.id, array.id, after.id, before.id]
    row = panel.rows[array.id]
    assert row.state == "cancelled" and "30/30 ended" in row.cells.value
    assert row.cancel_button.disabled and row.retry_button.layout.display == ""
    assert "1 active arrays" not in panel.summary.value
    panel.close()
    active.cancel()


def test_retry_on_a_finished_array_row_brings_it_back_above_the_queue(queue):
    array = queue.submit_array(SLEEP, items=range(3), parallel=1, name="again")
    array.cancel()
    waiting = queue.submit(SLEEP, hold=True)
    panel = QueuePanel(queue)
    assert list(panel.rows) == [waiting.id, array.id]
    panel.rows[array.id].retry_button.click()
    assert panel.message.value == ""
    assert list(panel.rows) == [array.id, waiting.id]
    row = panel.rows[array.id]
    assert row.state == "pending" and row.retry_button.layout.display == "none"
    assert array.refresh().counts["pending"] == 1 and array.counts["waiting"] == 2
    panel.close()
    array.cancel()
    waiting.cancel()


def test_a_state_filter_lists_the_arrays_with_elements_in_it_not_the_elements(queue):
    pending = queue.submit_array(SLEEP, items=range(4), parallel=2, name="two-at-once")
    held = queue.submit_array(SLEEP, items=range(3), hold=True, name="held")
    ended = queue.submit_array(SLEEP, items=range(3), name="ended")
    ended.element(1).cancel()
    plain = queue.submit(SLEEP)
    panel = QueuePanel(queue)
    panel.state_filter.value = "waiting"
    assert list(panel.rows) == [held.id, pending.id]
    panel.state_filter.value = "pending"
    assert list(panel.rows) == [ended.id, pending.id, plain.id]
    panel.state_filter.value = "cancelled"
    assert list(panel.rows) == [ended.id]
    assert "3 active arrays" in panel.summary.value
    panel.close()
    for array in (pending, held, ended):
        array.cancel()
    plain.cancel()


# ---- in a real kernel, read from the widget models' comm messages -------------------
def test_in_a_kernel_the_array_widget_sends_its_counts_and_stops_when_the_array_ends(
        kernel, queue):
    array = queue.submit_array(SLEEP, items=range(3), parallel=2)
    cell = kernel.run("import jobmagics\nfrom jobmagics.widgets import ArrayWidget\n"
                      f"widget = ArrayWidget(jobmagics.Queue().array({array.id!r}))\nwidget")
    assert cell.error is None, cell.error
    assert cell.data("application/vnd.jupyter.widget-view+json")
    model = kernel.wait_for_model(lambda s: "jobmagics-array-widget" in s.get("_dom_classes", ()))
    assert model["counts"]["pending"] == 2 and model["counts"]["waiting"] == 1
    array.element(0).cancel()
    kernel.wait_for_model(lambda s: s.get("counts", {}).get("cancelled") == 1, timeout=30)
    assert kernel.value("__import__('jobmagics.widgets').widgets.shared_poller().running") is True
    array.cancel()
    kernel.wait_for_model(lambda s: s.get("counts", {}).get("cancelled") == 3, timeout=30)
    wait_for(lambda: kernel.value(
        "__import__('jobmagics.widgets').widgets.shared_poller().running") is False, timeout=10)


def test_in_a_kernel_closing_the_array_widget_stops_its_thread(kernel, queue):
    array = queue.submit_array(SLEEP, items=range(2))
    kernel.run("import jobmagics\nfrom jobmagics.widgets import ArrayWidget\n"
               f"widget = ArrayWidget(jobmagics.Queue().array({array.id!r}))\nwidget")
    assert kernel.value("__import__('jobmagics.widgets').widgets.shared_poller().running") is True
    kernel.run("widget.close()")
    wait_for(lambda: kernel.value(
        "__import__('jobmagics.widgets').widgets.shared_poller().running") is False, timeout=10)
    assert array.refresh().counts["pending"] == 2          # closing the view acts on nothing
    array.cancel()
