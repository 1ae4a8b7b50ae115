"""What travels over a system queue's socket, without a service: records and submissions go
and come back whole, errors keep their class, and what is not declared is refused."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from jobmagics import Queue, paths
from jobmagics.errors import InvalidJob, JobNotFound, PermissionDenied, QueueError
from jobmagics.service import protocol
from jobmagics.service.operations import OPERATIONS, Caller
from jobmagics.service.remote import RemoteStore
from jobmagics.service.server import Service


def test_a_record_travels_whole(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "q")
    job = queue.submit(["echo", "a"], env={"K": "v"}, name="n", options={"capture": True})
    record = queue.store.get(job.id)
    a, b = socket.socketpair()
    with a, b:
        protocol.send(a, protocol.record_to_wire(record))
        assert protocol.record_from_wire(protocol.receive(b)) == record


def test_a_submission_travels_whole_with_its_payload(tmp_path: Path) -> None:
    spec, payload = Queue(tmp_path / "q")._spec(function=len, args=([1, 2],), priority=3)
    sent = protocol.spec_to_wire(spec)
    a, b = socket.socketpair()
    with a, b:
        protocol.send(a, sent)
        back = protocol.spec_from_wire(protocol.receive(b))
    assert back == spec and back.payload == payload


def test_a_submission_with_an_undeclared_field_is_refused(tmp_path: Path) -> None:
    spec, _ = Queue(tmp_path / "q")._spec(command=["true"])
    lying = protocol.spec_to_wire(spec) | {"user": "alice"}
    with pytest.raises(InvalidJob, match="unknown field 'user'"):
        protocol.spec_from_wire(lying)


@pytest.mark.parametrize("error", [PermissionDenied("no"), JobNotFound("JOB-20261129-00001"),
                                   InvalidJob("bad")])
def test_an_error_keeps_its_class_and_message(error: Exception) -> None:
    back = protocol.error_from_wire(protocol.error_to_wire(error))  # type: ignore[arg-type]
    assert type(back) is type(error) and str(back) == str(error)


def test_an_error_class_that_is_not_ours_reads_as_a_queue_error() -> None:
    back = protocol.error_from_wire(["SystemExit", "bye"])
    assert type(back) is QueueError and str(back) == "bye"


def test_every_operation_a_client_may_repeat_is_one_that_exists() -> None:
    assert set(OPERATIONS) | protocol.VERSIONS >= protocol.READS
    assert not {"submit", "apply", "save_result", "set_progress", "set_setting",
                "set_paused"} & protocol.READS


@pytest.mark.parametrize("request_, said", [
    ({"op": "find", "args": [None, None, None, None, "ten"]}, "limit must be a whole number"),
    ({"op": "active", "kwargs": {"offset": -1}}, "offset must be between"),
    ({"op": "count", "args": [None, None, None, "yesterday"]}, "since must be a time"),
    ({"op": "claim", "args": ["w"]}, "no operation 'claim'"),
    ({"op": "get", "args": ["JOB-1"], "kwargs": {"actor": "root"}}, "malformed request"),
    ({"args": []}, "must name an operation"),
])
def test_a_malformed_request_gets_one_clear_error_and_the_service_carries_on(
        tmp_path: Path, request_: dict, said: str) -> None:
    if os.geteuid() != 0:
        pytest.fail("a system queue is made by root: run the suite as root (CI does)",
                    pytrace=False)
    folder = tmp_path / "queue"
    paths.init_system(folder, "root")
    Queue(folder)
    service = Service(paths.QueueLayout(folder))
    try:
        caller = Caller(uid=65534, user="nobody")
        answer = service.answer(caller, request_)
        assert said in answer["error"][1], answer
        assert service.answer(caller, {"op": "count"}) == {"ok": 0}
    finally:
        service.close()


def test_a_forked_child_talks_to_the_service_on_its_own_connection(tmp_path: Path) -> None:
    """A job that forks after it reported progress: parent and child each ask at once, and
    neither reads the other's answers."""
    if os.geteuid() != 0:
        pytest.fail("a system queue is made by root: run the suite as root (CI does)",
                    pytrace=False)
    folder = tmp_path / "queue"
    paths.init_system(folder, "root")
    Queue(folder).submit(["true"], name="one")
    service = Service(paths.QueueLayout(folder)).start()
    try:
        remote = RemoteStore(paths.QueueLayout(folder))
        assert remote.count() == 1
        child = os.fork()
        if child == 0:                                      # pragma: no cover - the child
            ok = all(remote.whoami()["uid"] == 0 and remote.count() == 1 for _ in range(200))
            os._exit(0 if ok else 1)
        answers = [remote.count() for _ in range(200)]
        _, status = os.waitpid(child, 0)
        assert answers == [1] * 200 and os.waitstatus_to_exitcode(status) == 0
    finally:
        service.close()
