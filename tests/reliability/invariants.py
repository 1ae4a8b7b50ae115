"""What every reliability scenario checks, and the helpers its loads are made of.

CI sizes by default; ``JOBMAGICS_SOAK=1`` (``make soak``) scales every load up. Figures (recovery
latency, lock waits, WAL sizes) are printed in the terminal summary, never asserted."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jobmagics
from jobmagics.model import TERMINAL

SOAK = os.environ.get("JOBMAGICS_SOAK", "") not in ("", "0")
HELPERS = Path(__file__).with_name("helpers")
_FIGURES: list[tuple[str, str]] = []

# A command job that proves, with kernel file locks, that it is the only live attempt of its
# job and that its resource holds no more jobs than its capacity (a lock per unit). A process
# killed by SIGKILL releases its locks, so a lock still held means a process still running.
EVIDENCE_SH = r"""#!/bin/sh
dir=$1; secs=$2; res=$3; cap=${4:-1}
id=$JOBMAGICS_JOB_ID
exec 8>"$dir/locks/$id"
flock -n 8 || { echo "twice $id" >> "$dir/violations"; exit 98; }
if [ -n "$res" ]; then
  i=0; got=
  while [ "$i" -lt "$cap" ]; do
    exec 9>"$dir/locks/$res.$i"
    if flock -n 9; then got=1; break; fi
    i=$((i + 1))
  done
  [ -n "$got" ] || { echo "over $res $id" >> "$dir/violations"; exit 97; }
fi
echo "$id" >> "$dir/starts"
[ "$secs" = 0 ] || sleep "$secs"
"""


def sized(ci: int, soak: int) -> int:
    """A load size: ``ci`` in ``make test``, ``soak`` in ``make soak``."""
    return soak if SOAK else ci


def figure(name: str, value: str) -> None:
    """Record a measured figure for the terminal summary (numbers are reported, not asserted)."""
    _FIGURES.append((name, value))


@dataclass
class Evidence:
    """Files written by evidence jobs: who started, and any lock that was found taken."""

    root: Path

    def command(self, seconds: float = 0, resource: str | None = None, capacity: int = 1) -> list[str]:
        argv = ["sh", str(self.root / "evidence.sh"), str(self.root), f"{seconds:g}"]
        return argv + ([resource, str(capacity)] if resource else [])

    def violations(self) -> list[str]:
        path = self.root / "violations"
        return path.read_text().splitlines() if path.exists() else []

    def starts(self) -> Counter[str]:
        path = self.root / "starts"
        return Counter(path.read_text().split()) if path.exists() else Counter()


@dataclass
class Verdict:
    jobs: int
    states: Counter[str]
    attempts: int
    peak: dict[str, int] = field(default_factory=dict)


def check_invariants(queue: jobmagics.Queue, submitted: Sequence[str], *, exact: bool = True,
                     evidence: Evidence | None = None, slots: int | None = None) -> Verdict:
    """Every submitted job exists exactly once and ended in a true state; no job ran twice at
    once; no resource over capacity (and no worker over its slots); the database is sound."""
    assert queue.store.integrity_check() == "ok"
    rows = queue.store.db.read("SELECT id, state, exit_code, error, resources, cpus FROM jobs")
    counts = Counter(r["id"] for r in rows)
    assert not [i for i, n in counts.items() if n > 1], "a job id is stored twice"
    assert len(set(submitted)) == len(submitted), "the same id was handed out twice"
    by_id = {r["id"]: r for r in rows}
    assert not set(submitted) - by_id.keys(), f"submitted jobs are missing: {sorted(set(submitted) - by_id.keys())[:5]}"
    if exact:
        assert not by_id.keys() - set(submitted), f"jobs nobody submitted: {sorted(by_id.keys() - set(submitted))[:5]}"
    states: Counter[str] = Counter()
    for job_id in submitted:
        row = by_id[job_id]
        states[row["state"]] += 1
        assert row["state"] in {s.value for s in TERMINAL}, f"{job_id} is still {row['state']}"
        if row["state"] == "completed":
            assert row["exit_code"] == 0, f"{job_id} completed with exit code {row['exit_code']}"
        else:
            assert row["error"], f"{job_id} is {row['state']} without a reason"
    attempts, peak = _sweep_attempts(queue, slots)
    if evidence is not None:
        assert evidence.violations() == [], "evidence of a double run or an over-capacity resource"
    return Verdict(len(submitted), states, attempts, peak)


def _sweep_attempts(queue: jobmagics.Queue, slots: int | None) -> tuple[int, dict[str, int]]:
    """Replay every transition in commit order (event ids): a job never has two open attempts,
    a resource never more holders than its capacity, a worker never more cpus than its slots."""
    db = queue.store.db
    capacity = {r["name"]: r["capacity"] for r in db.read("SELECT name, capacity FROM resources")}
    needs = {r["id"]: (tuple(json.loads(r["resources"])), r["cpus"])
             for r in db.read("SELECT id, resources, cpus FROM jobs")}
    open_on: dict[str, str] = {}                 # job -> worker of its open attempt
    held: Counter[str] = Counter()
    busy: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    attempts = 0
    for event in db.read("SELECT job_id, state, detail FROM events ORDER BY id"):
        job_id, state, detail = event["job_id"], event["state"], event["detail"] or ""
        resources, cpus = needs.get(job_id, ((), 1))
        if state == "running" and detail.startswith("attempt "):
            assert job_id not in open_on, f"{job_id} started again while its attempt on {open_on.get(job_id)} was open"
            worker = detail.rsplit(" on ", 1)[-1]
            open_on[job_id] = worker
            attempts += 1
            busy[worker] += cpus
            assert slots is None or busy[worker] <= slots, f"worker {worker} ran {busy[worker]} cpus > {slots} slots"
            for name in resources:
                held[name] += 1
                peak[name] = max(peak[name], held[name])
                assert held[name] <= capacity.get(name, 1), f"{name} held by {held[name]} > capacity {capacity.get(name)}"
        elif state != "running" and job_id in open_on:
            busy[open_on.pop(job_id)] -= cpus
            for name in resources:
                held[name] -= 1
    return attempts, dict(peak)


class Submitters:
    """Submitter processes running ``helpers/submitter.py``; each writes the ids it got back."""

    def __init__(self, queue_dir: Path, out: Path) -> None:
        self.queue_dir = queue_dir
        self.out = out
        out.mkdir(exist_ok=True)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.out / f"{name}.log", "wb") as log:        # the child keeps its own copy
            proc = subprocess.Popen([sys.executable, str(HELPERS / "submitter.py"), str(self.queue_dir),
                                     str(self.out / f"{name}.ids"), *args], stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def acknowledged(self) -> list[str]:
        return [line.split()[0] for path in sorted(self.out.glob("*.ids"))
                for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]

    def log(self, name: str) -> str:
        return (self.out / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
