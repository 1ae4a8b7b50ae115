"""Real Unix accounts for the tests, and how they run the code under test from any checkout.

Accounts: the lab group and a second user for the JupyterLab tests (server and browser);
tests/test_permissions.py makes its own set the same way (``useradd``, root only).

How another account runs the code under test
--------------------------------------------
The checkout, its ``.venv`` and the interpreter that venv points at may all lie where other
accounts cannot enter: a clone in ``/root`` or under any 0700 folder, pyenv under ``/root``.
So no test asks another account to run the suite's own files, and the suite changes no
folder's mode on the way to them. Once per pytest process, on first use, ``account_python()``
builds a runtime the accounts can read, in a fresh folder under ``/tmp`` (0755, removed at exit):

- a venv (``--without-pip``) made from a Python of the suite's own version and ABI that an
  unprivileged uid can run: the suite's base interpreter when it is reachable, otherwise the
  system's ``pythonX.Y`` (``/usr/local/bin``, ``/usr/bin``); each is tried as uid 65534;
- in its site-packages, every distribution installed for the suite (hard links where the
  file is already world-readable, copies made readable otherwise, about 1 s; the editable
  install's hooks that point back to the checkout are left out) and the packages under test
  (``jobmagics``, ``kernel_worker``) as the checkout holds them when the runtime is built.

It is checked by importing the packages as uid 65534 with no groups before first use.
Another account's process is ``runuser -u USER -- <runtime python> ...``: from its first
instruction it is that uid with that account's groups (runuser calls initgroups), so the queue
sees the account itself, and a worker started that way runs its jobs as that account; its
``sys.executable`` (zygote, function jobs) is the runtime's interpreter, reachable too.
No Python of the suite's version reachable by other accounts -> the tests fail saying what
to install; they never skip.
"""
from __future__ import annotations

import atexit
import functools
import grp
import importlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

LAB_GROUP = "jmtest_lab"
OTHER_USER = "jmtest_alice"
CHECKOUT = Path(__file__).resolve().parents[1]
PACKAGES_UNDER_TEST = ("jobmagics", "kernel_worker")
NOBODY = 65534                      # an unprivileged uid/gid with no account's groups
# what another account's interpreter must import; printing where jobmagics came from
PROBE = ("import sysconfig, jobmagics, kernel_worker, psutil, cloudpickle\n"
         "print(sysconfig.get_config_var('SOABI'), jobmagics.__file__)")
SUBMIT = "import json, sys, jobmagics; print(jobmagics.Queue(sys.argv[1]).submit(**json.loads(sys.argv[2])).id)"


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


def as_account(user: str, *args: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The argv running ``python *args`` as ``user``, with the runtime's interpreter.
    ``env`` adds variables; the suite's PYTHONPATH/PYTHONHOME are not passed on."""
    settings = [f"{name}={value}" for name, value in (env or {}).items()]
    return ["runuser", "-u", user, "--", "env", "-u", "PYTHONPATH", "-u", "PYTHONHOME", *settings,
            str(account_python()), *args]


def submit_as(user: str, queue: Path, **spec: Any) -> str:
    """Submit a job to ``queue`` as ``user``; returns its id."""
    result = subprocess.run(as_account(user, "-c", SUBMIT, str(queue), json.dumps(spec)),
                            capture_output=True, text=True, cwd="/", timeout=60, check=False)
    assert result.returncode == 0, f"submit as {user} failed:\n{result.stderr}"
    return result.stdout.strip()


@functools.cache
def account_python() -> Path:
    """The interpreter other accounts run (built once per process; see the module docstring)."""
    folder = Path(tempfile.mkdtemp(prefix="jm-accounts-runtime-", dir="/tmp"))   # not $TMPDIR: it may be private
    atexit.register(shutil.rmtree, folder, True)
    return build_runtime(folder, [_package_folder(name) for name in PACKAGES_UNDER_TEST])


def build_runtime(folder: Path, packages: Iterable[Path]) -> Path:
    """A venv in ``folder`` that uid 65534 can run, holding the suite's installed
    distributions and a copy of ``packages``; returns its interpreter."""
    base = _reachable_interpreter()
    venv = folder / "venv"
    subprocess.run([str(base), "-m", "venv", "--without-pip", "--symlinks", str(venv)],
                   check=True, capture_output=True, timeout=120)
    site_packages = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    _mirror_installed_distributions(site_packages)
    for package in packages:
        shutil.rmtree(site_packages / package.name, ignore_errors=True)
        _mirror(package, site_packages / package.name)
    _open_folders_to_all(folder)
    python = venv / "bin" / "python"
    probe = _run_as_nobody(python, PROBE)
    where = probe.stdout.split()[-1] if probe.returncode == 0 else ""
    if not where.startswith(str(folder) + os.sep):
        pytest.fail(f"the runtime built for other accounts in {folder} does not work for them "
                    f"(jobmagics from {where or 'nowhere'}):\n{probe.stderr}", pytrace=False)
    return python


def _package_folder(name: str) -> Path:
    module_file = importlib.import_module(name).__file__
    assert module_file is not None, f"{name} is not a regular package"
    return Path(module_file).resolve().parent


def _reachable_interpreter() -> Path:
    """The first Python of this version and ABI that uid 65534 can run with its stdlib."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(getattr(sys, "_base_executable", "") or sys.executable)]
    candidates += [Path(folder) / version for folder in ("/usr/local/bin", "/usr/bin")]
    tried = []
    for candidate in dict.fromkeys(Path(os.path.realpath(c)) for c in candidates if c.exists()):
        probe = _run_as_nobody(candidate, "import sysconfig, sqlite3; print(sysconfig.get_config_var('SOABI'))")
        if probe.returncode == 0 and probe.stdout.strip() == sysconfig.get_config_var("SOABI"):
            return candidate
        tried.append(f"{candidate}: {(probe.stderr.strip().splitlines() or [probe.stdout.strip()])[-1]}")
    pytest.fail(f"no {version} that other Unix accounts can run (tried {'; '.join(tried) or 'none'}): "
                f"install one where they can reach it (Debian: apt-get install {version})", pytrace=False)


def _run_as_nobody(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    argv = [str(python), "-c", code]
    try:
        return subprocess.run(argv, user=NOBODY, group=NOBODY, extra_groups=[], cwd="/",
                              env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                              timeout=120, check=False)
    except OSError as error:            # the exec itself was refused (a folder on the way is closed)
        return subprocess.CompletedProcess(argv, 126, "", str(error))


def _mirror_installed_distributions(target: Path) -> None:
    """Everything in the suite's site-packages but the hooks pointing back to the checkout."""
    import site
    for source in map(Path, site.getsitepackages()):
        if not source.is_dir():
            continue
        for entry in source.iterdir():
            destination = target / entry.name
            if not destination.exists() and not _points_into_checkout(entry):
                _mirror(entry, destination)


def _points_into_checkout(entry: Path) -> bool:
    """An editable install's .pth or finder module (it names the checkout, unreachable to others)."""
    if entry.name.startswith("__editable__"):
        return True
    if entry.suffix not in (".pth", ".py") or not entry.is_file():
        return False
    return str(CHECKOUT) in entry.read_text(errors="replace")


def _mirror(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    elif source.is_symlink():
        target.symlink_to(os.readlink(source))
    else:
        _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> str:
    """A hard link when everyone may read the file already (fast; nothing is exposed that was
    not), else a copy made readable (a private umask's 0600 files)."""
    mode = os.stat(source).st_mode
    if mode & stat.S_IROTH:
        try:
            os.link(source, target)
            return target
        except OSError:                 # another filesystem, or links not permitted
            pass
    shutil.copy2(source, target)
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)
    return target


def _open_folders_to_all(folder: Path) -> None:
    """Folders 0755 (copytree kept the sources' modes: a private checkout's are 0700)."""
    os.chmod(folder, 0o755)
    for parent, folders, files in os.walk(folder):
        for name in folders:
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755)
        if "pyvenv.cfg" in files:
            os.chmod(os.path.join(parent, "pyvenv.cfg"), 0o644)
