"""The PBS executor's pure parts: reading ``qstat -f``, PBS states and exit statuses onto
outcomes, the generated ``#PBS`` script."""
from __future__ import annotations

import pytest

import jobmagics
from kernel_worker.executors import JobContext
from kernel_worker.executors.batch_tracker import ENDED, RUNNING, WAITING, BatchStatus
from kernel_worker.executors.pbs import (
    outcome_for,
    parse_qstat,
    pbs_script,
    resource_list,
    walltime,
)

QSTAT = """Job Id: 42.pbs.example.org
    Job_Name = JOB-20261129-00001
    job_state = R
    exec_host = node7/0+node7/1
    Resource_List.walltime = 00:02:00

Job Id:\t43
\tJob_Name = JOB-20261129-00002
\tjob_state = C
\texit_status = 3

Job Id: 44.pbs
    job_state = H
"""


def test_qstat_blocks_are_read_by_job_number_with_phase_node_and_exit_status() -> None:
    statuses = parse_qstat(QSTAT)
    assert set(statuses) == {"42", "43", "44"}
    assert statuses["42"].phase == RUNNING and statuses["42"].node == "node7"
    assert statuses["43"].phase == ENDED and statuses["43"].exit_code == 3
    assert statuses["44"].phase == WAITING and statuses["44"].reason == "held"
    assert parse_qstat("qstat: Unknown Job Id 9.pbs\n") == {}


@pytest.mark.parametrize("letter, phase", [("Q", WAITING), ("H", WAITING), ("W", WAITING),
                                           ("R", RUNNING), ("E", RUNNING), ("C", ENDED),
                                           ("F", ENDED)])
def test_pbs_states_map_onto_waiting_running_and_ended(letter: str, phase: str) -> None:
    assert parse_qstat(f"Job Id: 7\n job_state = {letter}\n")["7"].phase == phase


@pytest.mark.parametrize("file_code, qstat_code, ok, words", [
    (0, None, True, None),
    (3, None, False, "exit code 3"),
    (None, 2, False, "exit code 2"),
    (143, None, False, "killed by signal 15"),
    (None, None, False, "without an exit status"),
])
def test_an_ended_pbs_job_s_outcome_comes_from_its_exit_file_or_qstat(
        file_code: int | None, qstat_code: int | None, ok: bool, words: str | None) -> None:
    outcome = outcome_for(BatchStatus("C", ENDED, qstat_code), "42", file_code)
    assert outcome is not None and outcome.ok is ok
    if words:
        assert words in (outcome.error or "")


def test_an_unfinished_pbs_job_has_no_outcome() -> None:
    assert outcome_for(BatchStatus("R", RUNNING), "42", None) is None


def test_walltime_and_the_resource_list() -> None:
    assert walltime(61) == "00:01:01" and walltime(0.2) == "00:00:01"
    assert walltime(90061) == "25:01:01"


def test_the_pbs_script_asks_for_the_job_s_resources_and_writes_its_exit_status(
        queue: jobmagics.Queue) -> None:
    job = queue.store.get(queue.submit(["echo", "it's"], backend="slurm", cpus=2, memory="1.5G",
                                       timeout=3599.5, cwd="/tmp").id)
    assert resource_list(job) == "nodes=1:ppn=2,mem=1536mb,walltime=01:00:00"
    script = pbs_script(job, JobContext(queue.layout, "w"), queue.path / "pbs" / "reports", None)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh" and f"#PBS -N {job.id}" in lines
    assert f"#PBS -o {queue.path / 'logs' / f'{job.id}.log'}" in lines
    assert "cd /tmp || exit 1" in lines
    assert "echo 'it'\"'\"'s'" in lines
    assert any(line.startswith('echo "$code" >') and f"{job.id}.1.exit" in line for line in lines)
    assert lines[-1] == 'exit "$code"'
