"""``%%job submit --sweep``: a cell run once per point as one array, in a real IPython kernel
like a notebook's, with real workers; its mistakes are one UsageError line and queue nothing."""
from __future__ import annotations

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

from jobmagics import JobArray, Queue, State
from jobmagics.display import array_html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def submitted_array(kernel, queue: Queue) -> JobArray:  # type: ignore[no-untyped-def]
    return queue.array(kernel.value("_job.id"))


def test_a_sweep_is_one_array_whose_elements_see_their_point_and_pull_gives_lists_in_order(
        kernel, queue, worker):  # type: ignore[no-untyped-def]
    cell = kernel.run("%%job submit --name rabi --sweep amplitude=0:1:3 --parallel 2"
                      " --pull power,where\npower = amplitude ** 2\nwhere = (index, item)")
    assert cell.error is None, cell.error
    array = submitted_array(kernel, queue)
    assert kernel.value("type(_job).__name__") == "JobArray"
    assert array.size == 3 and array.parallel == 2 and array.name == "rabi"
    html = "".join(cell.data("text/html"))
    assert array.id in html, "the cell shows the array (its live widget, or its card)"
    waited = kernel.run("%job wait")
    assert waited.error is None, waited.error
    assert "pulled power, where" in waited.stdout
    assert kernel.value("power") == [0.0, 0.25, 1.0]
    assert kernel.value("where") == [(0, {"amplitude": 0.0}), (1, {"amplitude": 0.5}),
                                     (2, {"amplitude": 1.0})]
    assert array.refresh().state is State.COMPLETED


def test_repeated_sweeps_make_a_grid_with_the_last_name_fastest(kernel, queue, worker):  # type: ignore[no-untyped-def]
    kernel.run("suffix = '!'")
    cell = kernel.run("%%job submit --sweep a=1,2 --sweep b=x,y --push suffix --pull label"
                      " --wait\nlabel = f'{a}{b}{suffix}'")
    assert cell.error is None, cell.error
    assert "pulled label" in cell.stdout
    assert kernel.value("label") == ["1x!", "1y!", "2x!", "2y!"]
    assert submitted_array(kernel, queue).size == 4


def test_a_failed_point_fails_the_wait_with_the_arrays_counts(kernel, queue, worker):  # type: ignore[no-untyped-def]
    cell = kernel.run("%%job submit --sweep x=1,0,2 --pull y --wait\ny = 1 / x")
    assert cell.error is not None and cell.error["ename"] == "UsageError"
    assert "failed: 2 completed, 1 failed" in cell.error["evalue"]
    assert kernel.value("'y' in globals()") is False


def test_status_and_cancel_take_the_arrays_id(kernel, queue):  # type: ignore[no-untyped-def]
    kernel.run("%%job submit --sweep t=1,2,3,4 --parallel 1\nimport time\ntime.sleep(t)")
    array = submitted_array(kernel, queue)
    status = kernel.run(f"%job status {array.id}")
    assert status.error is None, status.error
    assert array.id in "".join(status.data("text/html"))
    assert kernel.run("%job hold").stdout == f"{array.id}: 4 elements held\n"
    released = kernel.run("%job release").stdout
    assert released == f"{array.id}: 4 elements released (1 pending, 3 waiting)\n"
    cancelled = kernel.run(f"%job cancel {array.id}")
    assert cancelled.stdout == f"{array.id}: 4 elements cancelled\n"
    assert array.refresh().state is State.CANCELLED
    logs = kernel.run("%job logs")
    assert logs.error is not None and f"{array.id}_0" in logs.error["evalue"]


def test_the_arrays_card_shows_its_counts_as_a_stacked_bar_and_its_first_elements(queue):  # type: ignore[no-untyped-def]
    array = queue.submit_array(command=["true"], items=range(12), parallel=3, name="card")
    card = array_html(array)
    assert "3 pending, 9 waiting" in card and "0% (0 of 12 ended)" in card
    assert 'title="3 pending"' in card and 'title="9 waiting"' in card
    assert f"{array.id}_9" in card and f"{array.id}_10" not in card
    assert "… and 2 more" in card


# ---- mistakes: in an in-process IPython shell, as tests/notebook/test_usage_errors.py ----------
@pytest.fixture
def shell(queue_dir):  # type: ignore[no-untyped-def]
    start_ipython()
    ip = get_ipython()
    ip.run_line_magic("load_ext", "jobmagics")
    magics = ip.magics_manager.registry["JobMagics"]
    magics._last_job, magics._queues = None, {}
    return ip


@pytest.mark.parametrize(("line", "message"), [
    ("submit --sweep x=", "--sweep x= has no values"),
    ("submit --sweep x=0:1:0", "N is how many values, a whole number >= 1"),
    ("submit --sweep x=0:1", "a range is START:STOP:N"),
    ("submit --sweep x=0:one:3", "STOP must be a number"),
    ("submit --sweep x=1,,2", "an empty value"),
    ("submit --sweep =1,2", "the name a python variable name"),
    ("submit --sweep x=1 --sweep x=2", "--sweep x is given twice"),
    ("submit --sweep x=1,2 --parallel 0", "parallel must be"),
    ("submit --parallel 2", "give --sweep NAME=VALUES too"),
    ("submit --sweep x=1,2 --parallel two", "invalid int value"),
])
def test_a_mistaken_sweep_is_one_usage_error_and_queues_nothing(shell, queue_dir, line,  # type: ignore[no-untyped-def]
                                                                message):
    with pytest.raises(UsageError) as raised:
        shell.run_cell_magic("job", line, "print(x)")
    assert message in str(raised.value) and "\n" not in str(raised.value).strip()
    assert Queue(queue_dir).count() == 0 and Queue(queue_dir).arrays() == []


def test_a_sweep_needs_a_cell(shell, queue_dir):  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="--sweep runs a cell once per value"):
        shell.run_line_magic("job", "submit --sweep x=1,2 -- echo {index}")
    assert Queue(queue_dir).count() == 0
