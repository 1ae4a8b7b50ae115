"""What every process that uses a queue agrees on at run time, below every other module (it
imports none): how long a worker may stay silent before the others presume it dead.

The lease is read by the listings (``Queue.mark_lost_workers``), by waiters (``Job.wait``
gives a lost job's recovery one lease before it gives up) and by the workers (supervision)."""
from __future__ import annotations

LEASE_S = 3.0     # a worker silent for three heartbeats (1 s each) is presumed dead
