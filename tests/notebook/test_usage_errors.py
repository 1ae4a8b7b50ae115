"""Every user mistake in a magic is one UsageError line, and nothing is submitted."""
from __future__ import annotations

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

from jobmagics import Queue


@pytest.fixture
def shell(queue_dir):  # type: ignore[no-untyped-def]
    start_ipython()            # once per process; later calls keep the same shell
    ip = get_ipython()
    ip.run_line_magic("load_ext", "jobmagics")
    ip.user_ns.pop("_job", None)
    magics = ip.magics_manager.registry["JobMagics"]
    magics._last_job, magics._queues = None, {}
    return ip


@pytest.mark.parametrize("line, message", [
    ("", "needs a subcommand"),
    ("frobnicate", "unknown %job subcommand 'frobnicate'"),
    ("submit", "give the command after --"),
    ("submit --priority high -- echo", "priority must be a whole number, not 'high'"),  # as the CLI says
    ("submit --memory lots -- echo", "cannot read memory size 'lots'"),
    ("submit --resource no_such_thing -- echo", "unknown resource 'no_such_thing'"),
    ("submit --after JOB-20200101-00001 -- echo", "no such job"),
    ("submit --push x -- echo", "--push and --pull work with %%job submit cells"),
    ("submit --timeout -3 -- echo", "timeout must be a positive number"),
    ("submit --bogus -- echo", "unrecognized arguments: --bogus"),
    ("status JOB-bad", "is not a job id"),
    ("status JOB-20200101-00001", "no job 'JOB-20200101-00001'"),
    ("status", "no job was submitted from this notebook yet"),
    ("cancel", "no job was submitted from this notebook yet"),
    ("history --state running", "history holds finished jobs only"),
    ("history --state sleeping", "unknown state 'sleeping'"),
    ("worker restart", "invalid choice: 'restart'"),
    ("worker start --startup /no/such/file.py", "no such file"),
    ("submit --name fit-\udcff -- echo", "name is not UTF-8 text: byte 0xff"),
    ("history --user \udcff", "user is not UTF-8 text"),
    ("queue --limit many", "invalid int value: 'many'"),
])
def test_a_mistaken_line_magic_raises_usage_error(shell, queue_dir, line, message):
    with pytest.raises(UsageError, match=None) as raised:
        shell.run_line_magic("job", line)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value).strip()
    assert Queue(queue_dir).count() == 0


@pytest.mark.parametrize("line, cell, message", [
    ("submit", "   \n", "the cell is empty"),
    ("submit -- echo hi", "print(1)", "put no command on the magic line"),
    ("submit", "def broken(:\n", "does not compile"),
    ("submit --push nowhere", "print(1)", "cannot push 'nowhere': no such variable"),
    ("submit --out 2bad", "print(1)", "not a valid variable name"),
    ("status", "print(1)", "%%job status is not a cell magic"),
])
def test_a_mistaken_cell_magic_raises_usage_error(shell, queue_dir, line, cell, message):
    with pytest.raises(UsageError) as raised:
        shell.run_cell_magic("job", line, cell)
    assert message in str(raised.value)
    assert Queue(queue_dir).count() == 0


def test_job_help_lists_every_subcommand_and_its_options(shell):
    doc = shell.find_line_magic("job").__doc__
    for usage in ("%job submit", "%job queue", "%job status", "%job logs", "%job output", "%job cancel",
                  "%job retry", "%job wait", "%job history", "%job worker", "--push", "--pull", "--slots"):
        assert usage in doc


def test_the_repr_of_jobs_and_queues_is_html_for_nbconvert(shell, queue_dir):
    queue = Queue(queue_dir)
    job = queue.submit(command=["echo", "<hi>"], name="a <b>")
    assert job.id in job._repr_html_() and "a &lt;b&gt;" in job._repr_html_()
    assert not hasattr(job, "_repr_mimebundle_"), "IPython shows a Job by _ipython_display_"
    assert job.id in queue._repr_html_() and "pending" in queue._repr_html_()


@pytest.mark.parametrize("verb", ["cancel", "hold", "release", "retry"])
def test_a_verb_on_several_ids_acts_on_all_or_on_none(shell, queue_dir, capsys, verb):
    queue = Queue(queue_dir)
    goods = [queue.submit(command=["true"]) for _ in range(2)]
    if verb == "release":
        queue.apply("hold", [g.id for g in goods])
    if verb == "retry":
        queue.apply("cancel", [g.id for g in goods])
    before = [(j.id, j.state, j.last_read.held) for j in queue.jobs()]
    with pytest.raises(UsageError, match="JOB-20200101-00001"):
        shell.run_line_magic("job", f"{verb} {goods[0].id} JOB-20200101-00001 {goods[1].id}")
    assert [(j.id, j.state, j.last_read.held) for j in queue.jobs()] == before
    shell.run_line_magic("job", f"{verb} {goods[0].id},{goods[1].id}")
    assert [(j.id, j.state, j.last_read.held) for j in queue.jobs()] != before
    if verb != "retry":
        assert capsys.readouterr().out.count("JOB-") == 2


def test_quoted_magic_arguments_are_split_as_a_shell_splits_them(shell, queue_dir):  # type: ignore[no-untyped-def]
    job = shell.run_line_magic("job", "submit --name 'a note' -- echo 'two words' \"and more\"")
    assert job.record.name == "a note"
    assert job.record.command == ["echo", "two words", "and more"]


def test_an_unclosed_quote_is_a_usage_error_that_submits_nothing(shell, queue_dir):  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="no closing quotation"):
        shell.run_line_magic("job", "submit --name 'a note -- echo")
    assert Queue(queue_dir).count() == 0
