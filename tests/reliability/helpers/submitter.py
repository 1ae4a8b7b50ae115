"""A submitter process for the reliability suite.

    submitter.py QUEUE IDS_FILE load N SEED EVIDENCE_DIR   N evidence jobs, singles and batches mixed
    submitter.py QUEUE IDS_FILE bulk SIZE TAG              batches of SIZE jobs until killed
    submitter.py QUEUE IDS_FILE single TAG                 one job at a time until killed

Every id the queue acknowledged is appended to IDS_FILE (flushed at once); "# begin K" is
written just before a submission starts, so a killer can aim at the middle of one."""
from __future__ import annotations

import random
import sys
import time
from typing import IO, Any

import jobmagics


def square(x: int) -> int:
    return x * x


def evidence_job(root: str, rng: random.Random) -> dict[str, Any]:
    base = ["sh", f"{root}/evidence.sh", root]
    roll = rng.random()
    if roll < 0.1:
        return {"command": base + ["0.005", "hardware", "1"], "resources": ["hardware"]}
    if roll < 0.15:
        return {"command": base + ["0.01", "gpu", "2"], "resources": ["gpu"]}
    return {"command": base + ["0"], "priority": rng.choice([0, 0, 0, 1, 5])}


def write(out: IO[str], lines: list[str]) -> None:
    out.write("".join(f"{line}\n" for line in lines))
    out.flush()


def load(q: jobmagics.Queue, out: IO[str], n: int, seed: int, root: str) -> None:
    rng = random.Random(seed)
    done = 0
    while done < n:
        size = min(n - done, 1 if rng.random() < 0.5 else rng.randint(2, 50))
        specs = [evidence_job(root, rng) for _ in range(size)]
        jobs = [q.submit(**specs[0])] if size == 1 else q.submit_many(specs)
        write(out, [j.id for j in jobs])
        done += size


def bulk(q: jobmagics.Queue, out: IO[str], size: int, tag: str) -> None:
    k = 0
    while True:
        write(out, [f"# begin {k}"])
        jobs = q.submit_many([{"command": ["true"], "name": f"{tag}-{k}", "env": {"PAD": "x" * 200}}
                              for _ in range(size)])
        write(out, [j.id for j in jobs] + [f"# acked {k}"])
        k += 1


def single(q: jobmagics.Queue, out: IO[str], tag: str) -> None:
    k = 0
    while True:
        write(out, [f"# begin {k}"])
        if k % 10 == 1:
            job = q.submit(function=square, args=(k,), name=f"{tag}-{k}")
        else:
            job = q.submit(command=["true"], name=f"{tag}-{k}")
        write(out, [job.id, f"# acked {k}"])
        k += 1
        time.sleep(0.002)     # keep the number of jobs (which a worker then runs) modest


def main(argv: list[str]) -> None:
    queue_dir, ids_file, mode, *rest = argv
    q = jobmagics.Queue(queue_dir)
    with open(ids_file, "a") as out:
        if mode == "load":
            load(q, out, int(rest[0]), int(rest[1]), rest[2])
        elif mode == "bulk":
            bulk(q, out, int(rest[0]), rest[1])
        elif mode == "single":
            single(q, out, rest[0])
        else:
            raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
