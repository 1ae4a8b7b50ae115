"""A second real Unix account for the JupyterLab tests (server and browser): the lab group,
the other user in it, and submitting a job as that user."""
from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

LAB_GROUP = "jmtest_lab"
OTHER_USER = "jmtest_alice"

# Runs as root, imports everything, then becomes the other user for real (setgid/setuid)
# before opening the queue: the venv's interpreter may live where that user cannot exec it
# (e.g. under /root/.pyenv), so `runuser -- python` is not an option everywhere.
SUBMIT_AS = """
import json, os, pwd, sys
import jobmagics, jobmagics.client, jobmagics.store, jobmagics.model, jobmagics.paths
entry = pwd.getpwnam(sys.argv[1])
os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
os.setgid(entry.pw_gid)
os.setuid(entry.pw_uid)
os.environ["HOME"] = "/"
print(jobmagics.Queue(sys.argv[2]).submit(**json.loads(sys.argv[3])).id)
"""


def ensure_lab_group() -> str | None:
    """The lab group, created when missing (root only; None otherwise: no second user then)."""
    if os.geteuid() != 0:
        return None
    try:
        grp.getgrnam(LAB_GROUP)
    except KeyError:
        subprocess.run(["groupadd", LAB_GROUP], check=True)
    return LAB_GROUP


def ensure_other_user(group: str) -> str:
    """The second account, a member of ``group`` (created when missing: CI runs as root)."""
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--groups", group, OTHER_USER], check=True)
    if OTHER_USER not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "-aG", group, OTHER_USER], check=True)
    return OTHER_USER


def submit_as(user: str, queue: Path, **spec: Any) -> str:
    """Submit a job to ``queue`` as ``user``; returns its id."""
    result = subprocess.run([sys.executable, "-c", SUBMIT_AS, user, str(queue), json.dumps(spec)],
                            capture_output=True, text=True, cwd="/", timeout=60, check=False)
    assert result.returncode == 0, f"submit as {user} failed:\n{result.stderr}"
    return result.stdout.strip()
