"""Experiments and configs in a system queue, as real accounts: a bad config is refused at
submit before it reaches the service (nothing queued); configs are files the service does not
write, so a config belongs to whoever pushed it first and another member's push is refused
saying so, while everyone reads it."""
from __future__ import annotations

from pathlib import Path

import jobmagics
from tests.service.running import Lab, ServiceProcess, cli_as, run_as

RABI = "jobmagics.experiments:Rabi"
# a client that skips the submit check (its own Queue._spec): the spec goes to the service as is
BYPASS = f"""
import sys, jobmagics
from jobmagics.model import JobSpec
q = jobmagics.Queue(sys.argv[1])
spec = JobSpec(kind="experiment", cwd="/tmp", held=True,
               experiment={{"target": "{RABI}", "config": {{"pionts": 3}}}}).validate()
try:
    q.store.submit([spec], q.user, q.host, [None])
except jobmagics.JobmagicsError as exc:
    print(exc)
"""


def test_a_members_bad_experiment_config_is_refused_at_submit_and_a_good_one_is_queued(
        lab: Lab, system_queue: Path, service: ServiceProcess, root_queue: jobmagics.Queue) -> None:
    refused = cli_as(lab.alice, system_queue, "submit", "--experiment", RABI,
                     "--config", '{"pionts": 3}', "--hold")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("jobmagics: error: bad config for Rabi: unknown key 'pionts';")
    assert root_queue.count() == 0
    root_queue.allow_experiment(RABI)
    forged = run_as(lab.alice, BYPASS, str(system_queue))       # the service checks it too
    assert forged.stdout.strip() == refused.stderr.removeprefix("jobmagics: error: ").strip()
    assert root_queue.count() == 0
    queued = cli_as(lab.alice, system_queue, "submit", "--experiment", RABI,
                    "--config", '{"points": 5}', "--hold")
    assert queued.returncode == 0, queued.stderr
    job = root_queue.get(queued.stdout.strip())
    assert (job.last_read.user, job.last_read.experiment) == (
        lab.alice, {"target": RABI, "config": {"points": 5}})
    assert job.events()[0]["detail"] == f"submitted by {lab.alice} (held)"


def test_in_a_system_queue_a_config_belongs_to_who_pushed_it_first_and_all_may_read_it(
        lab: Lab, system_queue: Path, tmp_path: Path) -> None:
    config = Path("/tmp") / f"jobmagics-station-{tmp_path.name}.yaml"
    config.write_text("qubit:\n  frequency: 5.1e9\n")
    config.chmod(0o644)
    try:
        pushed = cli_as(lab.alice, system_queue, "config", "push", "station", str(config))
        assert pushed.stdout == "station: saved as version 1 (main)\n", pushed.stderr
        refused = cli_as(lab.bob, system_queue, "config", "push", "station", str(config),
                         "--note", "mine")
        assert refused.returncode == 2
        assert refused.stderr == (
            f"jobmagics: error: {lab.bob} may not change config 'station': its files belong to"
            f" {lab.alice}; in a system queue a config belongs to whoever pushed its first"
            " version; push under a name of your own\n")
        assert cli_as(lab.bob, system_queue, "config", "main", "station", "1").returncode == 2
        assert cli_as(lab.bob, system_queue, "config", "pull", "station").stdout == \
            "qubit:\n  frequency: 5100000000.0\n"
        assert cli_as(lab.bob, system_queue, "config", "push", "station-bob",
                      str(config)).returncode == 0
    finally:
        config.unlink()
    assert [v.saved_by for v in jobmagics.Queue(system_queue).configs.history("station")] == \
        [lab.alice]
