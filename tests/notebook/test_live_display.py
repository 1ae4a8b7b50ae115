"""Every way of showing a Job, a JobArray or a Queue in a real kernel gives its live widget with a
display id; the widget follows the job, becomes the job's final card when it ends (an
``update_display_data`` without the widget view) and stops its thread; an ended job shows its
final card at once; re-running a cell and a ``jobmagics.views`` message close the widgets."""
from __future__ import annotations

import queue as queue_module
import time
from typing import Any

import pytest

from jobmagics import State
from tests.conftest import wait_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RABI = "jobmagics.experiments:Rabi"


class Messages:
    """Every iopub message the kernel sends (its widget models tracked by the session too)."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.seen: list[dict[str, Any]] = []

    def run(self, code: str, cell_id: str | None = None, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Execute ``code`` as a front end does (with JupyterLab's ``cellId`` when given); the
        messages of that execution."""
        client = self.kernel.client
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        msg = client.session.msg("execute_request", content,
                                 metadata={"cellId": cell_id} if cell_id else {})
        client.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        mine: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            got = self._next(deadline - time.monotonic())
            if got["parent_header"].get("msg_id") != msg_id:
                continue
            if got["msg_type"] == "status" and got["content"]["execution_state"] == "idle":
                break
            mine.append(got)
        reply = next(r for r in iter(lambda: client.get_shell_msg(timeout=timeout), None)
                     if r["parent_header"].get("msg_id") == msg_id)
        assert reply["content"]["status"] == "ok", reply["content"]
        return mine

    def _next(self, timeout: float) -> dict[str, Any]:
        msg = self.kernel.client.get_iopub_msg(timeout=max(0.05, timeout))
        self.kernel._track_widgets(msg)
        self.seen.append(msg)
        return msg

    def wait(self, predicate: Any, timeout: float = 60.0) -> dict[str, Any]:
        """The first message (seen or to come) that ``predicate`` accepts."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for msg in self.seen[checked:]:
                if predicate(msg):
                    return msg
            checked = len(self.seen)
            if time.monotonic() > deadline:
                raise AssertionError(f"no such message within {timeout} s")
            try:
                self._next(min(0.2, deadline - time.monotonic()))
            except queue_module.Empty:
                continue


def job_widget_opens(messages: list[dict[str, Any]]) -> list[str]:
    """The comm ids of the JobWidget models opened (the VBox that carries a ``state``)."""
    return [m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_open"
            and m["content"]["data"]["state"].get("_model_name") == "VBoxModel"
            and "state" in m["content"]["data"]["state"]]


def live_displays(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["msg_type"] == "display_data"
            and m["content"]["metadata"].get("jobmagics", {}).get("live")]


@pytest.fixture
def nb(kernel: Any) -> Messages:
    return Messages(kernel)


def subscribers(nb: Messages) -> int:
    return nb.kernel.value("len(__import__('jobmagics.widgets').widgets.shared_poller().subscribers())")


@pytest.mark.parametrize("way", ["job", "submit", "get", "display", "status"])
def test_every_way_of_showing_a_job_that_has_not_ended_gives_its_live_widget(nb, queue, way):
    job = queue.submit(command=["true"], hold=True, name="held")
    nb.run(f"import jobmagics\nq = jobmagics.Queue()\njob = q.get({job.id!r})")
    code = {"job": "job", "submit": "q.submit(command=['true'], hold=True)",
            "get": f"q.get({job.id!r})", "display": "display(job)", "status": f"%job status {job.id}"}
    messages = nb.run(code[way])
    assert len(job_widget_opens(messages)) == 1
    [shown] = live_displays(messages)
    data = shown["content"]["data"]
    assert shown["content"]["transient"]["display_id"]
    assert data[WIDGET_VIEW]["model_id"] == job_widget_opens(messages)[0]
    assert "text/html" in data and "text/plain" in data, "the fallback for nbconvert"
    assert nb.kernel.models[data[WIDGET_VIEW]["model_id"]]["state"] == "waiting"


def test_the_widget_follows_the_job_and_ends_as_its_final_card_without_the_widget_view(nb, queue, worker):
    messages = nb.run("import jobmagics\njobmagics.Queue().submit(command=['sh', '-c',"
                      " 'echo the last words; sleep 1; exit 3'], name='doomed')")
    [model_id] = job_widget_opens(messages)
    display_id = live_displays(messages)[0]["content"]["transient"]["display_id"]
    final = nb.wait(lambda m: m["msg_type"] == "update_display_data"
                    and m["content"]["transient"].get("display_id") == display_id, timeout=120)
    states = [u["state"] for u in nb.kernel.model_history[model_id] if "state" in u]
    assert states[-1] == "failed" and "running" in states
    data = final["content"]["data"]
    assert WIDGET_VIEW not in data
    assert "jobmagics-state-failed" in data["text/html"] and "exit code 3" in data["text/html"]
    assert "the last words" in data["text/html"], "the last lines of its output"
    assert "%job retry" in data["text/html"] and "job.retry()" in data["text/plain"]
    nb.wait(lambda m: m["msg_type"] == "comm_close" and m["content"]["comm_id"] == model_id)
    assert subscribers(nb) == 0


def test_a_job_that_already_ended_shows_its_final_card_and_no_widget(nb, queue):
    job = queue.submit(command=["true"], hold=True, name="never")
    job.cancel()
    messages = nb.run(f"%job status {job.id}")
    assert not [m for m in messages if m["msg_type"] == "comm_open"]
    html = "".join(m["content"]["data"]["text/html"] for m in messages
                   if m["msg_type"] in ("display_data", "execute_result"))
    assert "jobmagics-state-cancelled" in html and f"%job retry {job.id}" in html
    assert subscribers(nb) == 0


def test_an_experiments_final_card_has_its_plot_with_the_fit_and_its_summary(nb, queue, worker):
    messages = nb.run(f"import jobmagics\njob = jobmagics.Queue().submit(experiment={RABI!r},"
                      " config={'points': 15, 'reps': 20, 'seed': 1})\njob")
    display_id = live_displays(messages)[0]["content"]["transient"]["display_id"]
    final = nb.wait(lambda m: m["msg_type"] == "update_display_data"
                    and m["content"]["transient"].get("display_id") == display_id, timeout=120)
    html = final["content"]["data"]["text/html"]
    summary = nb.kernel.value("job.result()")
    assert "jobmagics-state-completed" in html and "data:image/png;base64," in html
    assert all(name in html for name in summary), "the summary, as job.result() gives it"
    again = nb.run("job")                      # ended: the same card, straight away
    [card] = [m for m in again if m["msg_type"] == "display_data"]
    assert "data:image/png;base64," in card["content"]["data"]["text/html"]


def test_running_a_cell_again_closes_the_widgets_it_displayed_before(nb, queue):
    job = queue.submit(command=["true"], hold=True)
    first = job_widget_opens(nb.run(f"%job status {job.id}", cell_id="cell-1"))
    other = job_widget_opens(nb.run(f"%job status {job.id}", cell_id="cell-2"))
    second = nb.run(f"%job status {job.id}", cell_id="cell-1")
    assert first[0] in [m["content"]["comm_id"] for m in second if m["msg_type"] == "comm_close"]
    assert len(job_widget_opens(second)) == 1
    assert other[0] not in [m["content"]["comm_id"] for m in nb.seen if m["msg_type"] == "comm_close"]
    assert subscribers(nb) == 2


def test_a_jobmagics_views_message_closes_the_widgets_it_names(nb, queue):
    job = queue.submit(command=["true"], hold=True)
    [gone] = job_widget_opens(nb.run(f"%job status {job.id}"))
    [kept] = job_widget_opens(nb.run(f"%job status {job.id}"))
    client = nb.kernel.client
    client.shell_channel.send(client.session.msg("comm_open", {
        "comm_id": "views-1", "target_name": "jobmagics.views", "data": {}}))
    client.shell_channel.send(client.session.msg("comm_msg", {
        "comm_id": "views-1", "data": {"closed": [gone, "no-such-model"]}}))
    nb.wait(lambda m: m["msg_type"] == "comm_close" and m["content"]["comm_id"] == gone)
    assert subscribers(nb) == 1
    assert kept not in [m["content"]["comm_id"] for m in nb.seen if m["msg_type"] == "comm_close"]


def test_a_queue_displays_as_its_live_queue_panel(nb, queue):
    held = queue.submit(command=["true"], hold=True)
    messages = nb.run("import jobmagics\njobmagics.Queue()")
    [shown] = live_displays(messages)
    panel = nb.kernel.models[shown["content"]["data"][WIDGET_VIEW]["model_id"]]
    assert "jobmagics-queue-panel" in panel["_dom_classes"]
    assert held.id in shown["content"]["data"]["text/html"]


def test_an_array_shows_its_live_widget_until_it_ends(nb, queue, worker):
    messages = nb.run("import jobmagics\njobmagics.Queue().submit_array(command=['sleep', '1'],"
                      " items=[1, 2, 3], hold=True)")
    queue.release(queue.arrays(limit=1)[0].id)
    [shown] = live_displays(messages)
    display_id = shown["content"]["transient"]["display_id"]
    final = nb.wait(lambda m: m["msg_type"] == "update_display_data"
                    and m["content"]["transient"].get("display_id") == display_id, timeout=120)
    assert WIDGET_VIEW not in final["content"]["data"]
    assert "3 completed" in final["content"]["data"]["text/html"]


def test_a_burst_of_output_wakes_the_poller_a_few_times_not_once_per_line(nb, queue, worker):
    nb.run("import jobmagics\nfrom jobmagics.widgets import shared_poller\n"
           "job = jobmagics.Queue().submit(code='import time\\nfor i in range(2000):\\n"
           "    print(i, flush=True)\\n    time.sleep(0.0005)\\ntime.sleep(1)')\njob")
    before = nb.kernel.value("shared_poller().ticks")
    wait_for(lambda: queue.jobs(limit=1)[0].refresh().state is State.COMPLETED, timeout=120)
    wait_for(lambda: subscribers(nb) == 0, timeout=30)
    assert "1999" in queue.jobs(limit=1)[0].log()
    assert nb.kernel.value("shared_poller().ticks") - before < 400


def test_a_submit_that_waits_shows_its_job_once_and_returns_it(nb, queue, worker):
    messages = nb.run("%%job submit --wait --name waited\nprint('waited for')")
    shown = [m for m in messages if m["msg_type"] in ("display_data", "execute_result")]
    assert len(shown) == 1 and shown[0]["content"]["metadata"]["jobmagics"]["live"]
    display_id = shown[0]["content"]["transient"]["display_id"]
    nb.wait(lambda m: m["msg_type"] == "update_display_data"
            and m["content"]["transient"].get("display_id") == display_id)
    assert nb.kernel.value("_.id") == queue.jobs(name="waited", limit=1)[0].id


def test_the_data_plot_draws_the_stored_fit_over_the_data_and_reads_the_summary(queue):
    import numpy as np
    from matplotlib.figure import Figure

    from jobmagics.data import DataWriter, load
    from jobmagics.experiments import fits
    from jobmagics.widgets.data_plot import _draw_fit, data_png
    job = queue.submit(command=["true"], hold=True)
    x = np.linspace(0.0, 1.0, 21)
    y = 1 - np.exp(-x / 0.3)
    job.data_path.parent.mkdir(parents=True, exist_ok=True)
    with DataWriter(job.data_path) as data:
        data.set_plot("delay", "amplitude")
        data.extend(delay=x, amplitude=y)
        data.set_attrs(fit=fits.fitted_curve("exponential_decay", "delay", "amplitude", x, y,
                                             decay_time=0.3))
        data.close(summary={"t1": 0.3})
    png, summary = data_png(job)
    assert png is not None and png.startswith(b"\x89PNG") and summary == {"t1": 0.3}
    ax = Figure().subplots()
    loaded = load(job)
    loaded.plot(ax=ax)
    _draw_fit(ax, loaded.attrs["fit"], loaded)
    assert [line.get_label() for line in ax.lines] == ["amplitude", "fit (exponential_decay)"]
