"""(being built: issue 12) make bench: the schedules figures."""
from __future__ import annotations

if __name__ == "__main__":
    print("bench_schedules: not measured yet")
