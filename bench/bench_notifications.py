"""(being built: issue 12) make bench: the notifications figures."""
from __future__ import annotations

if __name__ == "__main__":
    print("bench_notifications: not measured yet")
