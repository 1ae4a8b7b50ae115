"""Run an experiment job: ``python -m kernel_worker.runners.experiment_job QUEUE JOB_ID``.

The work is ``jobmagics.experiments.run_experiment`` (shared with the persistent-kernel
executor); this adds what a child process needs: SIGTERM (cancel, timeout) unwinds so the
data file and the station are closed properly, and the last line of the log is the one clear
error the worker records as the job's error."""
from __future__ import annotations

import signal
import sys
import traceback
from types import FrameType

from jobmagics import progress_bars
from jobmagics.context import progress
from jobmagics.errors import JobmagicsError
from jobmagics.experiments import run_experiment


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


def _report(message: str) -> None:
    sys.stdout.flush()          # the job's own prints first: the error must be the log's last line
    print(message, file=sys.stderr, flush=True)


def main(queue_path: str, job_id: str) -> int:
    signal.signal(signal.SIGTERM, _stop)
    progress_bars.install(progress)          # its tqdm bars report to the job
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # the log is read live
    try:
        run_experiment(job_id, queue_path)
    except JobmagicsError as exc:
        _report(str(exc))
        return 1
    except KeyboardInterrupt as exc:
        _report(f"experiment stopped before the end ({str(exc) or 'interrupted'});"
                " data so far kept")
        return 130
    except BaseException:  # noqa: BLE001 - the experiment's own bug: the traceback ends the log
        sys.stdout.flush()
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
