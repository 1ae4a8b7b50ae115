"""Request bodies of the REST API, checked before anything acts on them.

Every malformed body is a :class:`BadRequest` (400), never an exception from deeper down
(500): bytes that are not UTF-8, JSON that is not an object or nests without end, text that
cannot be stored (lone surrogates, written ``"\\ud800"`` in JSON), NUL bytes in a path.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InvalidJob
from ..fields import check_submission
from ..kinds import KINDS, JsonBody, one_of
from ..model import JobSettings

# The bodies a submit may give, by their kind's keyword: those of the kinds JSON can carry.
JSON_BODIES: dict[str, JsonBody] = {
    k.keyword: k.json_body for k in KINDS.values() if k.json_body is not None}
BODIES = tuple(JSON_BODIES)
# a field that goes beside one kind's body: its name -> (that body's keyword, what it is)
_CONFIG = "the experiment's config, a JSON object; keys left out take its class's defaults"
BESIDE_BODIES: dict[str, tuple[str, str]] = {"config": ("experiment", _CONFIG)}
ONE_BODY = "give exactly one of " + one_of(
    [f'"{keyword}" ({sent.says})' for keyword, sent in JSON_BODIES.items()])
ACTIONS = ("cancel", "retry", "hold", "release")
MAX_BULK_IDS = 10_000
MAX_PATH_CHARS = 4096


class BadRequest(ValueError):
    """Raised when query parameters or a request body are malformed (400)."""


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object whose every string is storable text."""
    try:
        body = json.loads(raw or b"{}", parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    _check_text_everywhere(body)
    return body


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the request body is not JSON: {name} is not a JSON number")


def _check_text_everywhere(value: Any) -> None:
    """Refuse text that is not Unicode scalar values (lone surrogates): SQLite, files and
    other clients could not store or read it back."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadRequest("the request body holds text that is not valid Unicode"
                                 f" ({exc.reason} {item[exc.start:exc.end]!r});"
                                 " nothing was changed") from None


def submit_keywords(body: dict[str, Any], root: Path) -> dict[str, Any]:
    """The keywords of ``Queue.submit`` from a submit body: one kind's body (``JSON_BODIES``)
    and the settings; the working directory is resolved inside the Jupyter root. Touches the
    filesystem: run it off the event loop."""
    try:
        check_submission(JobSettings, body, extra=(*BODIES, *BESIDE_BODIES))
    except InvalidJob as exc:
        raise BadRequest(str(exc)) from None
    _check_beside_bodies(body)
    keywords = {k: v for k, v in body.items() if k not in JSON_BODIES}    # the settings
    given = {k: body[k] for k in JSON_BODIES if body.get(k) is not None}  # null: not given
    if len(given) != 1:
        raise BadRequest(ONE_BODY)
    [(keyword, value)] = given.items()
    if not JSON_BODIES[keyword].valid(value):
        raise BadRequest(f'"{keyword}" must be {JSON_BODIES[keyword].must_be}')
    keywords[keyword] = value
    keywords["cwd"] = working_directory(keywords.get("cwd"), root)
    return keywords


def _check_beside_bodies(body: dict[str, Any]) -> None:
    """``config`` goes with ``experiment`` only, and is a JSON object."""
    for name, (keyword, _) in BESIDE_BODIES.items():
        if body.get(name) is None:
            continue
        if body.get(keyword) is None:
            raise BadRequest(f'"{name}" goes with "{keyword}": give "{keyword}" too')
        if not isinstance(body[name], dict):
            raise BadRequest(f'"{name}" must be a JSON object of keys and values, not'
                             f" {type(body[name]).__name__}")


def working_directory(cwd: Any, root: Path) -> str:
    """A cwd relative to the server's root directory (where the notebooks are)."""
    root = root.expanduser().resolve()
    if cwd is None or cwd == "":
        return str(root)
    if not isinstance(cwd, str):
        raise BadRequest('"cwd" must be a path relative to the Jupyter root directory')
    if "\x00" in cwd or len(cwd) > MAX_PATH_CHARS:
        raise BadRequest('"cwd" must be a path without NUL bytes,'
                         f' at most {MAX_PATH_CHARS} characters')
    try:
        path = (root / cwd.lstrip("/")).resolve()
        is_dir = path.is_dir()
    except (OSError, RuntimeError) as exc:          # a name too long, a symlink loop, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadRequest(f'"cwd" {cwd!r} cannot be used: {reason}') from None
    if path != root and root not in path.parents:
        raise BadRequest(f'"cwd" {cwd!r} is outside the Jupyter root directory')
    if not is_dir:
        raise BadRequest(f'"cwd" {cwd!r} is not a directory')
    return str(path)


def bulk_action(body: dict[str, Any]) -> tuple[str, list[str]]:
    """(action, job ids) of ``POST /jobmagics/api/jobs/actions``."""
    unknown = sorted(set(body) - {"action", "ids"})
    if unknown:
        raise BadRequest(f'unknown field {unknown[0]!r} (allowed: "action", "ids")')
    action, ids = body.get("action"), body.get("ids")
    if action not in ACTIONS:
        raise BadRequest(f'"action" must be one of {", ".join(ACTIONS)}, not {action!r}')
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_BULK_IDS
            or not all(isinstance(i, str) for i in ids)):
        raise BadRequest(f'"ids" must be a list of 1 to {MAX_BULK_IDS} job ids (strings)')
    return action, ids
