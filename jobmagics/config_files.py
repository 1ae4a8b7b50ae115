"""Configs as files a lab keeps beside its code: YAML or JSON alike, by the file's suffix, and
a readable diff of two configs (``config push|pull|diff``, ``submit --config-file``).

Every problem with a file is one ``InvalidJob`` line that names the file: it cannot be read,
it is not YAML/JSON, it is not a mapping, or it holds what JSON cannot (a date, a NaN)."""
from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidJob

YAML_SUFFIXES = (".yaml", ".yml")
SUFFIXES = (*YAML_SUFFIXES, ".json")
MAX_FILE_BYTES = 16 * 1024 * 1024


def file_format(path: str | os.PathLike[str]) -> str:
    """``yaml`` or ``json``, from the suffix; anything else is refused, naming the file."""
    suffix = Path(path).suffix.lower()
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix == ".json":
        return "json"
    raise InvalidJob(f"{os.fspath(path)}: a config file ends in .yaml, .yml or .json"
                     f" (not {suffix or 'no suffix'!r})")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping a YAML or JSON file holds, checked to be plain JSON data."""
    name = os.fspath(path)
    fmt = file_format(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidJob(f"{name}: cannot read it: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidJob(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB; a config is small")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJob(f"{name}: not UTF-8 text (byte 0x{raw[exc.start]:02x}"
                         f" at offset {exc.start})") from None
    data = _parse(name, fmt, text)
    if not isinstance(data, dict):
        raise InvalidJob(f"{name}: a config is a mapping of keys to values, not"
                         f" {_kind(data)}")
    return plain_config(data, name)


def _parse(name: str, fmt: str, text: str) -> Any:
    if fmt == "json":
        try:
            return json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidJob(f"{name}: not valid JSON: {exc}") from None
    import yaml  # only for who reads YAML
    try:
        return yaml.load(text, Loader=_loader())     # a SafeLoader (see _loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidJob(f"{name}: not valid YAML{line}: {problem}") from None
    except RecursionError:
        raise InvalidJob(f"{name}: not valid YAML: nested too deeply") from None


# YAML 1.1 (PyYAML) reads 1e-6 as text; a lab's config means the number, as YAML 1.2 does
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


@functools.cache
def _loader() -> Any:
    """PyYAML's safe loader that also reads exponent floats without a dot (``1e-6``)."""
    import yaml

    class ConfigLoader(yaml.SafeLoader):
        pass

    ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT,
                                       list("-+0123456789."))
    return ConfigLoader


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _kind(value: object) -> str:
    return "an empty file" if value is None else f"a {type(value).__name__}"


def plain_config(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``data`` if it is plain JSON data with text keys (what a job's config may be)."""
    for path, value in _leaves(data, ""):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidJob(f"{name}: {path} is {value}, which JSON cannot hold")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise InvalidJob(f"{name}: {path} is a {type(value).__name__} ({value!s:.40}),"
                             " not plain data: write it as text or a number")
    return dict(data)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidJob(f"key {key!r} under {path or 'the top'} is not text")
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def submitted_config(inline: str | None, file: str | None) -> dict[str, Any]:
    """An experiment's config as the doors take it: ``--config-file``'s mapping with
    ``--config``'s JSON object over it (either may be left out)."""
    config = read_config_file(file) if file is not None else {}
    if inline is not None:
        config.update(inline_config(inline))
    return config


def inline_config(text: str, flag: str = "--config") -> dict[str, Any]:
    """``--config '{"amplitude": 0.3}'``: a JSON object."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidJob(f"{flag} is not JSON: {exc} (write an object, e.g."
                         " '{\"amplitude\": 0.3}')") from None
    if not isinstance(data, dict):
        raise InvalidJob(f"{flag} must be a JSON object of keys and values, not"
                         f" {type(data).__name__} {text!r:.60}")
    return plain_config(data, flag)


def config_text(data: Mapping[str, Any], fmt: str = "yaml") -> str:
    """A config as YAML (keys in their order, block style) or indented JSON."""
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    import yaml
    return str(yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False,
                              allow_unicode=True))


def write_config_file(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write ``data`` as the file's suffix says (the suffix is checked before anything)."""
    text = config_text(data, file_format(path))
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidJob(f"{os.fspath(path)}: cannot write it: {exc.strerror}") from None


# ---- diff ------------------------------------------------------------------------------
def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """What changed from ``old`` to ``new``, a line per key (nested mappings by dotted path):
    ``+ key: value`` added, ``- key: value`` removed, ``~ a.b: 1 -> 2`` changed."""
    lines: list[str] = []
    for key in [*old, *(k for k in new if k not in old)]:
        path = f"{prefix}{key}"
        if key not in new:
            lines.append(f"- {path}: {_show(old[key])}")
        elif key not in old:
            lines.append(f"+ {path}: {_show(new[key])}")
        elif isinstance(old[key], Mapping) and isinstance(new[key], Mapping):
            lines += diff_configs(old[key], new[key], f"{path}.")
        elif not _same(old[key], new[key]):
            lines.append(f"~ {path}: {_show(old[key])} -> {_show(new[key])}")
    return lines


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON data: 1 and 1.0 are the same number, True is not 1."""
    return (type(a) is type(b) and a == b) or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
