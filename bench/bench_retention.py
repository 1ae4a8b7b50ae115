"""(being built: issue 12) make bench: the retention figures."""
from __future__ import annotations

if __name__ == "__main__":
    print("bench_retention: not measured yet")
