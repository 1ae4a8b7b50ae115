"""Hold a transaction on a queue database, as a misbehaving process would.

    hold_lock.py DB write SECONDS      BEGIN IMMEDIATE (the write lock) for SECONDS
    hold_lock.py DB read RELEASE_FILE  a read transaction, kept open until RELEASE_FILE exists

Prints "held" once the lock is taken."""
from __future__ import annotations

import os
import sqlite3
import sys
import time


def main(db: str, mode: str, arg: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=60)
    if mode == "write":
        conn.execute("BEGIN IMMEDIATE")
        print("held", flush=True)
        time.sleep(float(arg))
        conn.execute("COMMIT")
        return
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM jobs").fetchall()      # the snapshot that pins the WAL
    print("held", flush=True)
    while not os.path.exists(arg):
        time.sleep(0.05)
    conn.execute("COMMIT")


if __name__ == "__main__":
    main(*sys.argv[1:4])
