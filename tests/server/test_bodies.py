"""Malformed request bodies get 400 with one message and change nothing, never 500:
NUL bytes, lone surrogates, bytes that are not UTF-8, JSON that is not JSON; and a fuzz of
the submit body (hypothesis) that may find what these examples miss."""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jobmagics
from jobmagics.kinds import KINDS
from jobmagics.server.bodies import BODIES, ONE_BODY, BadRequest, submit_keywords

SURROGATE = "\\ud800"          # a lone surrogate, as JSON writes it


@pytest.mark.parametrize("raw", [
    json.dumps({"command": ["true"], "cwd": "a\x00b"}),
    json.dumps({"code": "pass", "cwd": "\x00"}),
    json.dumps({"command": ["true"], "cwd": "d/" * 3000}),
    json.dumps({"command": ["true"], "name": "a\x00b"}),
    json.dumps({"command": ["echo", "a\x00"]}),
    f'{{"command": ["true"], "name": "x{SURROGATE}"}}',
    f'{{"command": ["echo", "{SURROGATE}"]}}',
    f'{{"code": "print(\'{SURROGATE}\')"}}',
    f'{{"command": ["true"], "cwd": "{SURROGATE}"}}',
    f'{{"command": ["true"], "resources": ["{SURROGATE}"]}}',
    f'{{"command": ["true"], "after": ["{SURROGATE}"]}}',
    f'{{"command": ["true"], "{SURROGATE}": 1}}',
    '{"command": ["true"], "timeout": NaN}',
    '{"command": ["true"], "timeout": Infinity}',
    '{"command": ["true"], "priority": ' + "9" * 5000 + "}",
    '{"command": ["true"], "memory": [1]}',
    '{"command": ["true"], "after": [1]}',
    '{"command": ["true"], "resources": {"a": 1}}',
    "[" * 100_000 + "]" * 100_000,
])
async def test_a_malformed_submission_is_400_and_changes_nothing(
        api: Any, q: jobmagics.Queue, raw: str) -> None:
    status, body = await api("POST", "jobs", raw_body=raw)
    assert status == 400, body
    assert body["error"] and body["type"]
    assert q.count() == 0


async def test_a_body_that_is_not_utf8_is_400(api: Any, q: jobmagics.Queue) -> None:
    status, body = await api("POST", "jobs", raw_body=b'{"command": ["echo", "\xff\xfe"]}')
    assert status == 400 and body["type"] == "BadRequest"
    assert q.count() == 0


@pytest.mark.parametrize("params", [{"limit": "1" * 5000}, {"since": "1e999"}])
async def test_malformed_list_parameters_are_400(api: Any, params: dict[str, str]) -> None:
    status, body = await api("GET", "jobs", params=params)
    assert status == 400, body


FIELDS = ["command", "code", "name", "priority", "resources", "cpus", "memory", "after",
          "timeout", "retries", "cwd", "hold", "env"]
HOSTILE = st.sampled_from(["\x00", "\ud800", "\udcff", "\n", "é", "/", ".", "a"])
TEXT = st.text(HOSTILE, max_size=6) | st.text(st.characters(codec=None, exclude_categories=()), max_size=10)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT
    | st.sampled_from(["true", "..", "/", "pass", "1G", "hardware", "JOB-20000101-00001"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
VALID_BASE = (st.fixed_dictionaries({"command": st.lists(TEXT, min_size=1, max_size=3)})
              | st.fixed_dictionaries({"code": TEXT | st.just("pass")}))
FIELD_VALUES = st.fixed_dictionaries(
    {}, optional={field: TEXT | st.lists(TEXT, max_size=3) | JSON_VALUES for field in FIELDS})
SUBMIT_BODIES = st.tuples(VALID_BASE, FIELD_VALUES, st.dictionaries(TEXT, JSON_VALUES, max_size=2)) \
    .map(lambda parts: {**parts[2], **parts[0], **parts[1]})


async def test_no_submit_body_makes_the_server_fail(api: Any, q: jobmagics.Queue) -> None:
    loop = asyncio.get_running_loop()

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(SUBMIT_BODIES)
    def check(body: dict[str, Any]) -> None:
        raw = json.dumps(body)                  # ensure_ascii: surrogates travel as \\udXXX
        call = asyncio.run_coroutine_threadsafe(api("POST", "jobs", raw_body=raw), loop)
        status, reply = call.result(60)
        assert status in (201, 400, 404), (raw, status, reply)
        assert reply["error"] if status != 201 else reply["job"]["id"], reply

    await loop.run_in_executor(None, check)     # hypothesis in a thread; the server on the loop


# ---- the bodies a submit may give: those of the kinds whose body JSON can carry -----------
def test_a_submit_body_names_the_kinds_json_can_carry_and_never_a_pickle() -> None:
    assert tuple(k.keyword for k in KINDS.values() if k.json_body is not None) == BODIES
    assert "command" in BODIES and "code" in BODIES and "function" not in BODIES
    assert ONE_BODY == ('give exactly one of "command" (a list of strings), "code" (a string) or'
                        ' "experiment" (a "module:Class" string, with "config" beside it)')


@pytest.mark.parametrize("body", [{}, {"command": ["true"], "code": "pass"},
                                  {"command": None, "code": None, "name": "x"}])
def test_a_submit_body_gives_exactly_one_kinds_body(body: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match=f"^{re.escape(ONE_BODY)}$"):
        submit_keywords(body, tmp_path)


@pytest.mark.parametrize(("body", "message"), [
    ({"command": []}, '"command" must be a non-empty list of strings, e.g. ["python", "fit.py"]'),
    ({"command": "echo hi"}, '"command" must be a non-empty list of strings'),
    ({"code": ["print(1)"]}, '"code" must be a string'),
    ({"function": "f", "code": "pass"}, "unknown field 'function'"),
])
def test_a_body_of_the_wrong_shape_is_refused_by_name(body: dict[str, Any], message: str,
                                                      tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        submit_keywords(body, tmp_path)


def test_a_submit_body_becomes_the_keywords_of_queue_submit(tmp_path: Path) -> None:
    body = {"command": None, "code": "print(1)", "name": "x", "priority": None}
    keywords = submit_keywords(body, tmp_path)
    assert keywords == {"code": "print(1)", "name": "x", "priority": None,
                        "cwd": str(tmp_path.resolve())}
    assert submit_keywords({"command": ["true"]}, tmp_path) \
        == {"command": ["true"], "cwd": str(tmp_path.resolve())}
