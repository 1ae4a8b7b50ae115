"""Entry points run inside a job's own process (``python -m kernel_worker.runners.X QUEUE ID``)."""
