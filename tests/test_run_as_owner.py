"""In a system queue, every job runs as its owner (root only: it makes real Unix accounts).

The queue is made by ``paths.init_system``, its service runs in this process (as root, the
service's account), and a root worker runs the jobs; jobs are inserted for two real accounts
by the store, as the service does for them."""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics import paths
from jobmagics.paths import QueueLayout
from jobmagics.service import serve
from kernel_worker.spawning import WorkerHandle
from tests.accounts import account_python
from tests.slurm.conftest import slurm  # noqa: F401 - the real single-node SLURM, as a fixture

GROUP, OWNERS = "jmtest_sys", ("jmtest_x", "jmtest_y")


@pytest.fixture(scope="module")
def owners() -> dict[str, pwd.struct_passwd]:
    """Two accounts with homes, members of the queue's group (CI runs as root)."""
    if os.getuid() != 0:
        pytest.fail("jobs run as their owners only under a root worker: run the suite as root"
                    " (CI does)", pytrace=False)
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True)
    for user in OWNERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-G", GROUP, user], check=True)
    account_python()
    return {user: pwd.getpwnam(user) for user in OWNERS}


@pytest.fixture
def system_queue(owners: dict[str, pwd.struct_passwd]) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="jm-system-", dir="/tmp"))
    os.chmod(base, 0o755)
    folder = base / "queue"
    paths.init_system(folder, GROUP)
    jobmagics.Queue(folder).store.count()          # the database, made by the service's account
    service = serve(QueueLayout(folder))
    yield folder
    service.close()
    shutil.rmtree(base)


@pytest.fixture
def start_worker(system_queue: Path, tmp_path: Path) -> Iterator[Callable[..., WorkerHandle]]:
    """A root worker in the interpreter other accounts can run (its children become them)."""
    started: list[WorkerHandle] = []
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    def start(*args: str) -> WorkerHandle:
        log = tmp_path / f"worker-{len(started)}.log"
        with open(log, "ab") as output:
            process = subprocess.Popen(
                [str(account_python()), "-m", "kernel_worker", "--queue", str(system_queue),
                 "--serve-group", *args], stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, cwd="/", env={**environment, "PYTHONUNBUFFERED": "1"})
        handle = WorkerHandle(process, log, system_queue)
        started.append(handle)
        handle.wait_registered()
        return handle

    yield start
    for handle in started:
        handle.stop()


def submit_for(queue_dir: Path, user: str, **submission: Any) -> str:
    """Insert a job of ``user`` as the service does for it (the store, as root)."""
    queue = jobmagics.Queue(queue_dir)
    submission.setdefault("cwd", "/tmp")
    spec, payload = queue._spec(**submission)
    return queue.store.submit([spec], user, paths.current_host(), [payload])[0]


def finished(queue_dir: Path, job_id: str, timeout: float = 60) -> jobmagics.Job:
    return jobmagics.Queue(queue_dir).get(job_id).wait(timeout)


def private_file(folder: Path, owner: int, text: str) -> Path:
    path = folder / f"secret-{owner}"
    path.write_text(text)
    os.chown(path, owner, owner)
    os.chmod(path, 0o600)
    return path


# ---- command jobs ---------------------------------------------------------------------------
@pytest.mark.parametrize("user", OWNERS)
def test_a_command_job_runs_with_its_owners_uid_groups_umask_and_home(
        system_queue: Path, start_worker: Callable[..., WorkerHandle], user: str) -> None:
    start_worker()
    account = pwd.getpwnam(user)
    job_id = submit_for(system_queue, user, command=[
        "sh", "-c", 'id -un; id -gn; id -G; umask; echo "$HOME $USER $LOGNAME"'])
    job = finished(system_queue, job_id)
    assert job.state == "completed", (job.error, job.log())
    groups = " ".join(str(g) for g in sorted(set(os.getgrouplist(user, account.pw_gid))))
    lines = job.log().splitlines()
    assert lines[0] == user and lines[1] == grp.getgrgid(account.pw_gid).gr_name
    assert " ".join(sorted(lines[2].split(), key=int)) == groups
    assert lines[3] == "0027"           # the queue shares its files with its group: read only
    assert lines[4] == f"{account.pw_dir} {user} {user}"


def test_a_jobs_log_belongs_to_its_owner_and_the_queue_group_may_read_it(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    start_worker()
    job_id = submit_for(system_queue, "jmtest_x", command=["echo", "hello"])
    assert finished(system_queue, job_id).state == "completed"
    info = QueueLayout(system_queue).log(job_id).stat()
    assert pwd.getpwuid(info.st_uid).pw_name == "jmtest_x"
    assert grp.getgrgid(info.st_gid).gr_name == GROUP
    assert info.st_mode & 0o777 == 0o640


def test_a_job_cannot_read_a_private_file_of_another_account_or_of_root(
        system_queue: Path, start_worker: Callable[..., WorkerHandle], tmp_path: Path) -> None:
    start_worker()
    folder = Path(tempfile.mkdtemp(prefix="jm-secrets-", dir="/tmp"))
    try:
        os.chmod(folder, 0o755)
        theirs = private_file(folder, pwd.getpwnam("jmtest_y").pw_uid, "y's token")
        roots = private_file(folder, 0, "root's token")
        job_id = submit_for(system_queue, "jmtest_x", command=[
            "sh", "-c", f"cat {theirs}; cat {roots}; echo tried"])
        job = finished(system_queue, job_id)
        log = job.log()
        assert "tried" in log and log.count("Permission denied") == 2, log
        assert "token" not in log
    finally:
        shutil.rmtree(folder)


def test_a_job_whose_owner_has_no_account_here_fails_saying_so(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    start_worker()
    job_id = submit_for(system_queue, "jmtest_gone", command=["true"])
    job = finished(system_queue, job_id)
    assert job.state == "failed"
    assert "no Unix account jmtest_gone on this machine" in job.error


def test_a_command_job_of_an_owner_joins_its_attempts_container_and_keeps_no_way_into_it(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    """The worker opens the container's join file for the job (the kernel checks who opened
    it); the job must not keep that descriptor, or it could move any process into its cgroup."""
    from kernel_worker import proctrack
    start_worker()
    job_id = submit_for(system_queue, "jmtest_x", command=[
        "sh", "-c", "cat /proc/self/cgroup; ls -l /proc/self/fd/"])
    job = finished(system_queue, job_id)
    assert job.state == "completed", (job.error, job.log())
    log = job.log()
    assert "cgroup.procs" not in log and "/tasks" not in log
    tracker = proctrack.tracker_for(system_queue)
    if tracker.hierarchy is not None:
        assert f"{job_id}.1" in log


@pytest.mark.parametrize("squat", ["file", "link"])
def test_what_another_account_put_at_a_jobs_data_name_is_removed_before_it_runs(
        system_queue: Path, start_worker: Callable[..., WorkerHandle], squat: str) -> None:
    job_id = submit_for(system_queue, "jmtest_x", command=["true"], hold=True)
    layout = QueueLayout(system_queue)
    target = layout.data(job_id)
    if squat == "file":
        target.write_text("not your data")
    else:
        target.symlink_to("/etc/passwd")
    os.chown(target, pwd.getpwnam("jmtest_y").pw_uid, -1, follow_symlinks=False)
    start_worker()
    jobmagics.Queue(system_queue).store.release(job_id, "jmtest_x")
    assert finished(system_queue, job_id).state == "completed"
    assert not target.is_symlink() and not target.exists()


# ---- function and python jobs: the zygote and fresh kernels ---------------------------------
def test_a_function_job_forked_from_the_zygote_runs_as_its_owner_and_holds_nothing_of_root(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    import psutil
    start_worker()

    def inside() -> tuple[str, str, str, list[str], int]:   # pickled by value: a local function
        import contextlib
        import os
        import pwd
        import subprocess
        opened = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):      # the listing's own descriptor, closed by now
                opened.append(os.readlink(f"/proc/self/fd/{fd}"))
        umask = subprocess.run(["sh", "-c", "umask"], capture_output=True, text=True).stdout
        name = pwd.getpwuid(os.getuid()).pw_name
        return name, os.environ["HOME"], umask.strip(), opened, os.getppid()

    python = str(account_python())
    job_id = submit_for(system_queue, "jmtest_y", function=inside, options={"python": python})
    job = finished(system_queue, job_id)
    assert job.state == "completed", (job.error, job.log())
    user, home, umask, opened, parent = job.result(trust=True)
    assert (user, home, umask) == ("jmtest_y", pwd.getpwnam("jmtest_y").pw_dir, "0027")
    assert not [path for path in opened if "jobs.db" in path], opened
    assert "kernel_worker.runners.zygote" in " ".join(psutil.Process(parent).cmdline())
    assert QueueLayout(system_queue).log(job_id).stat().st_uid == pwd.getpwnam("jmtest_y").pw_uid


def test_a_python_job_in_a_fresh_kernel_runs_as_its_owner_and_its_outputs_are_theirs(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    start_worker()
    code = "import os, pwd\nprint(pwd.getpwuid(os.getuid()).pw_name, os.environ['HOME'])\nx = 41 + 1"
    job_id = submit_for(system_queue, "jmtest_x", code=code, options={"pull": ["x"]})
    job = finished(system_queue, job_id, 120)
    assert job.state == "completed", (job.error, job.log())
    assert f"jmtest_x {pwd.getpwnam('jmtest_x').pw_dir}" in job.log()
    assert job.result(trust=True) == {"x": 42}
    layout, uid = QueueLayout(system_queue), pwd.getpwnam("jmtest_x").pw_uid
    for path in (layout.log(job_id), layout.outputs(job_id), layout.notebook(job_id)):
        assert path.stat().st_uid == uid and path.stat().st_mode & 0o777 == 0o640, path


# ---- the instrument's kernel stays the service's ---------------------------------------------
def test_a_non_operators_python_job_in_the_instrument_kernel_fails_and_an_operators_runs(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    start_worker("--resource", "hardware")
    store = jobmagics.Queue(system_queue).store
    store.set_setting("operators", ["jmtest_y"])
    code = "import os\nprint('uid', os.getuid())"
    refused = submit_for(system_queue, "jmtest_x", code=code, resources=["hardware"])
    allowed = submit_for(system_queue, "jmtest_y", code=code, resources=["hardware"])
    job = finished(system_queue, refused, 120)
    assert job.state == "failed"
    assert job.error == ("jmtest_x may not run python code in the instrument kernel of hardware"
                         " (ask a queue admin: jobmagics admin operators add jmtest_x)")
    job = finished(system_queue, allowed, 120)
    assert job.state == "completed", (job.error, job.log())
    assert "uid 0" in job.log()                       # the station's kernel: the service's account
    assert QueueLayout(system_queue).log(allowed).stat().st_uid == pwd.getpwnam("jmtest_y").pw_uid


def test_an_experiment_not_on_the_allowlist_fails_in_the_instrument_kernel_and_a_listed_one_runs(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    start_worker("--resource", "hardware")
    store = jobmagics.Queue(system_queue).store
    target = "jobmagics.experiments:Rabi"
    refused = submit_for(system_queue, "jmtest_x", experiment=target, config={"points": 3},
                         resources=["hardware"])
    assert finished(system_queue, refused, 120).state == "failed"
    assert "jmtest_x may not run experiment jobmagics.experiments:Rabi" in \
        jobmagics.Queue(system_queue).get(refused).error
    store.set_setting("allowed_experiments", [target])
    allowed = submit_for(system_queue, "jmtest_x", experiment=target, config={"points": 3},
                         resources=["hardware"])
    job = finished(system_queue, allowed, 120)
    assert job.state == "completed", (job.error, job.log())
    layout, uid = QueueLayout(system_queue), pwd.getpwnam("jmtest_x").pw_uid
    for path in (layout.data(allowed), layout.config(allowed)):
        assert path.stat().st_uid == uid, path


# ---- SLURM ------------------------------------------------------------------------------------
@pytest.mark.usefixtures("slurm")       # its SLURM_CONF is in os.environ, for the worker
def test_a_slurm_job_is_submitted_as_its_owner_so_slurm_runs_it_as_them(
        system_queue: Path, start_worker: Callable[..., WorkerHandle]) -> None:
    start_worker("--slurm")
    job_id = submit_for(system_queue, "jmtest_x", command=["sh", "-c", "id -un; umask"],
                        backend="slurm")
    job = finished(system_queue, job_id, 120)
    assert job.state == "completed", (job.error, job.log())
    assert job.log().split() == ["jmtest_x", "0027"]
    assert QueueLayout(system_queue).log(job_id).stat().st_uid == pwd.getpwnam("jmtest_x").pw_uid


# ---- the identity itself ------------------------------------------------------------------------
def test_a_forked_child_that_dropped_to_an_owner_cannot_become_root_again(
        owners: dict[str, pwd.struct_passwd]) -> None:
    from kernel_worker.identity import Identity
    identity = Identity.of("jmtest_x", umask=0o027)
    pid = os.fork()
    if pid == 0:                                        # the child: exit status is the verdict
        try:
            identity.drop()
            became = (os.getuid(), os.geteuid(), os.getgid(), sorted(os.getgroups()), os.umask(0))
            expected = (identity.uid, identity.uid, identity.gid, sorted(identity.groups), 0o027)
            try:
                os.setuid(0)
                os._exit(3)
            except PermissionError:
                os._exit(0 if became == expected else 2)
        except BaseException:  # noqa: BLE001 - the child must never return into pytest
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_an_account_that_does_not_exist_is_named_in_the_error() -> None:
    from kernel_worker.identity import Identity, NoAccount
    with pytest.raises(NoAccount, match="no Unix account jmtest_nowhere on this machine"):
        Identity.of("jmtest_nowhere")


def test_an_allowed_experiment_is_never_imported_from_its_owners_folder_in_the_instrument_kernel(
        system_queue: Path, start_worker: Callable[..., WorkerHandle], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-operator's folder holding a module of the allowed name would run it as root."""
    # the owner's own notebook would import it at submit, as the owner: not what is proved here
    monkeypatch.setattr("jobmagics.experiments.checking.find_class",
                        lambda target, cwd: (None, "submitted from elsewhere"))
    folder = tmp_path / "owners-folder"
    folder.mkdir()
    proof = tmp_path / "ran-as-root"
    (folder / "labexp.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(proof)!r}).write_text('imported')\n"
        "from jobmagics.experiments import Rabi as Probe\n")
    os.chmod(tmp_path, 0o755)
    start_worker("--resource", "hardware")
    jobmagics.Queue(system_queue).store.set_setting("allowed_experiments", ["labexp:Probe"])
    job_id = submit_for(system_queue, "jmtest_x", experiment="labexp:Probe",
                        config={"points": 3}, resources=["hardware"], cwd=str(folder))
    job = finished(system_queue, job_id, 120)
    assert job.state == "failed" and "cannot import module labexp" in job.error
    assert not proof.exists()


def test_an_experiment_class_others_may_change_is_not_run_for_other_users(tmp_path: Path) -> None:
    import importlib.util
    import sys

    from jobmagics.errors import InvalidJob
    from jobmagics.experiments.run import check_installed_safely

    def probe_in(folder: Path, name: str) -> type:
        folder.mkdir()
        (folder / f"{name}.py").write_text("class Probe:\n    pass\n")
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Probe

    os.chmod(tmp_path, 0o755)
    check_installed_safely(probe_in(tmp_path / "admins", "safe_probe"))     # root's, 0755
    shared = tmp_path / "group-writable"
    unsafe = probe_in(shared, "unsafe_probe")
    os.chmod(shared, 0o775)
    with pytest.raises(InvalidJob, match="may be changed by others"):
        check_installed_safely(unsafe)
