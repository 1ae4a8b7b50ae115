"""The sidebar's TypeScript types, generated from the one declaration of a job's fields.

``python -m jobmagics.typescript`` writes ``labextension/src/generated/job.ts``: the JSON of a
job as the REST API sends it (a listing's row, one job whole), the body of a submit, the job's
options, its states, and the examples of ``formats`` that the sidebar's formatters must
reproduce. ``--check`` exits 1 when the committed file is not what the declaration gives
(``make test`` checks it too: tests/test_typescript.py).
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
import types
import typing
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from . import formats
from .fields import JobField, Setting, declared_fields, settings
from .kinds import one_of
from .model import ACTIVE, RETRYABLE, TERMINAL, JobOptions, JobRecord, JobSettings, State
from .server.bodies import BESIDE_BODIES, JSON_BODIES
from .server.views import BIG_FIELDS, LISTED_COMMAND_CHARS, SUMMARY_CHARS
from .store.changes import CHANGE_TOPICS
from .store.rules import RULES

COMMAND = "python -m jobmagics.typescript"
OUTPUT = Path(__file__).resolve().parents[1] / "labextension" / "src" / "generated" / "job.ts"
WIDTH = 100

SIMPLE = {str: "string", int: "number", float: "number", bool: "boolean"}
NAMED = {State: "JobState", JobOptions: "IJobOptions"}


@dataclass(frozen=True)
class Property:
    """One member of a TypeScript interface."""

    name: str
    type: str
    doc: str
    optional: bool = False


@dataclass(frozen=True)
class Interface:
    name: str
    doc: str
    properties: tuple[Property, ...]
    extends: str = ""

    def names(self) -> list[str]:
        return [p.name for p in self.properties]


# ---- Python types -> TypeScript -------------------------------------------------------
def ts_type(hint: Any) -> str:
    """The TypeScript type of a declared field's Python type hint."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(hint))
        return " | ".join([*(ts_type(m) for m in members), *(["null"] if nullable else [])])
    if hint is Any:
        return "unknown"
    if hint in SIMPLE:
        return SIMPLE[hint]
    if hint in NAMED:
        return NAMED[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and len(args) == 1:
        item = ts_type(args[0])
        return f"({item})[]" if " | " in item else f"{item}[]"
    if origin is dict and len(args) == 2 and args[0] is str:
        return f"Record<string, {ts_type(args[1])}>"
    raise TypeError(f"no TypeScript type for {hint!r}: teach jobmagics.typescript.ts_type it")


def submitted_type(field: JobField) -> str:
    """What a submit body may send for a setting: its type, widened by ``accepts``
    (memory: "4G" or a number of bytes), options by name (each optional), or null."""
    declared = field.declared
    if isinstance(declared, Setting) and declared.accepts:
        base = declared.accepts
    elif field.hint is JobOptions:
        base = "Partial<IJobOptions>"
    else:
        base = ts_type(field.hint)
    return base if base.endswith(" | null") else f"{base} | null"


def _help(field: JobField, default: bool = False) -> str:
    """A field's help, with its choices (and its default, if asked and worth saying)."""
    declared, text = field.declared, field.declared.help
    if isinstance(declared, Setting) and declared.choices:
        text += f"; one of {', '.join(declared.choices)}"
    value = field.default
    if default and not (value in (MISSING, None, False, "") or is_dataclass(value)
                        or isinstance(value, (list, dict)) or "default" in text):
        text += f"; default {json.dumps(value)}"
    return text


# ---- the interfaces -------------------------------------------------------------------
def job_options() -> Interface:
    props = tuple(Property(f.name, ts_type(f.hint), _help(f))
                  for f in declared_fields(JobOptions))
    return Interface("IJobOptions", "Declared extras that some kinds and doors use"
                     " (model.JobOptions).", props)


def _record_property(field: JobField) -> Property:
    doc = _help(field)
    if isinstance(field.declared, Setting) and field.declared.accepts:
        doc += f" (as stored; a submit may send {field.declared.accepts})"
    if field.name == "command":
        doc += (f"; null in listings when it is longer than {LISTED_COMMAND_CHARS} characters"
                " (see summary)")
    return Property(field.name, ts_type(field.hint), doc)


def job_base() -> Interface:
    """What every JSON of a job carries: the fields of ``JobRecord`` but the big ones, the
    paths ``Job.to_dict`` adds, and what the REST views add (``server.views``)."""
    props = [_record_property(f) for f in declared_fields(JobRecord)
             if f.public and f.name not in BIG_FIELDS]
    props += [
        Property("log_path", "string", "its log: stdout and stderr of every attempt"),
        Property("data_path", "string", "its data file (HDF5, named by its id)"),
        Property("outputs_path", "string", "its captured rich outputs"),
        Property("summary", "string",
                 f"what it runs, on one line of at most {SUMMARY_CHARS} characters"),
        Property("brief", "boolean", "true in listings: code, options, environment and an"
                 " experiment's config come from the one-job route"),
        Property("may", f"({' | '.join(json.dumps(action) for action in RULES)})[]",
                 "the actions the current user may take on it now: its state allows them"
                 " (store.rules) and it is theirs, or they are a queue admin"),
    ]
    return Interface("IJobBase", "What every JSON of a job carries: a listing's rows and the"
                     " one-job route.", tuple(props))


def job_row() -> Interface:
    left_out = [f.name for f in declared_fields(JobRecord) if f.name in BIG_FIELDS]
    props = (
        Property("experiment", "{ target: string } | null", "an experiment's module:Class"
                 " target (its config comes from the one-job route)"),
        Property("brief", "true", "a listing's row"),
        Property("sentence", "string | null", "how a notification tells the current user that"
                 " it ended, in one sentence (messages.sentence); null while it has not"),
    )
    return Interface("IJobRow", "A job in a listing (`GET jobs`, `GET queue`) and in the answer"
                     f" of a submit or an action: without {', '.join(left_out)}.",
                     props, extends="IJobBase")


def job_whole() -> Interface:
    props = []
    for f in declared_fields(JobRecord):
        if f.name not in BIG_FIELDS:
            continue
        if f.public:
            props.append(Property(f.name, ts_type(f.hint), _help(f)))
        else:
            props.append(Property(f.name, ts_type(f.hint), _help(f)
                                  + "; to its owner or a queue admin only", optional=True))
    props.append(Property("brief", "false", "the job whole"))
    return Interface("IJob", "One job whole (`GET jobs/<id>`).", tuple(props), extends="IJobBase")


def submit_spec() -> Interface:
    """The body of ``POST jobs``: the body of one kind that JSON can carry
    (``server.bodies.JSON_BODIES``, of ``kinds.Kind.json_body``) and every setting by its
    keyword; null or left out leaves the queue's default."""
    body_fields = {f.keyword: f for f in declared_fields(JobSettings)}
    one_body = one_of(list(JSON_BODIES))
    props = [Property(keyword, f"{ts_type(sent.hint)} | null",
                      f"{_help(body_fields[keyword])} (give {one_body})", optional=True)
             for keyword, sent in JSON_BODIES.items()]
    props += [Property(name, "Record<string, unknown> | null", f"{text} (with {keyword})",
                       optional=True) for name, (keyword, text) in BESIDE_BODIES.items()]
    props += [Property(f.keyword, submitted_type(f), _help(f, default=True), optional=True)
              for f in settings(JobSettings)]
    return Interface("ISubmitSpec", f"The body of a submit (`POST jobs`): {one_body}, and"
                     " settings (null or left out: the queue's default).", tuple(props))


def interfaces() -> list[Interface]:
    return [job_options(), job_base(), job_row(), job_whole(), submit_spec()]


# ---- rendering ------------------------------------------------------------------------
def doc_comment(text: str, indent: str = "") -> list[str]:
    """``text`` as a sentence in a JSDoc comment, on one line if it fits."""
    text = (text[0].upper() + text[1:]).replace("*/", "*\\/")
    text += "" if text.endswith(".") else "."
    one = f"{indent}/** {text} */"
    if len(one) <= WIDTH:
        return [one]
    lines = textwrap.wrap(text, WIDTH - len(indent) - 3)
    return [f"{indent}/**", *(f"{indent} * {line}" for line in lines), f"{indent} */"]


def render_interface(interface: Interface) -> list[str]:
    extends = f" extends {interface.extends}" if interface.extends else ""
    lines = [*doc_comment(interface.doc), f"export interface {interface.name}{extends} {{"]
    for prop in interface.properties:
        lines += doc_comment(prop.doc, "  ")
        lines.append(f"  {prop.name}{'?' if prop.optional else ''}: {prop.type};")
    return [*lines, "}", ""]


def _constant(name: str, states: Sequence[State], doc: str) -> list[str]:
    items = [f"'{s.value}'" for s in states]
    line = f"export const {name}: readonly JobState[] = [{', '.join(items)}];"
    if len(line) <= WIDTH:
        return [f"/** {doc} */", line]
    return [f"/** {doc} */", f"export const {name}: readonly JobState[] = [",
            *(f"  {item}," for item in items), "];"]


def render_states() -> list[str]:
    ordered = list(State)
    return [
        "/** A job's state (model.State). */",
        "export type JobState =",
        *(f"  | '{s.value}'" for s in ordered[:-1]), f"  | '{ordered[-1].value}';",
        "",
        *_constant("JOB_STATES", ordered, "Every state, in model.State's order."),
        *_constant("ACTIVE_STATES", [s for s in ordered if s in ACTIVE],
                   "Waiting, pending or running (model.ACTIVE)."),
        *_constant("TERMINAL_STATES", [s for s in ordered if s in TERMINAL],
                   "The states a job ends in (model.TERMINAL)."),
        *_constant("RETRYABLE_STATES", [s for s in ordered if s in RETRYABLE],
                   "The ended states a retry runs again (model.RETRYABLE)."),
        "",
    ]


def render_topics() -> list[str]:
    lines = ["/**", " * What the long poll `changes` counts apart (store.changes.CHANGE_TOPICS): a",
             " * part of the sidebar reads again only when its own count moved.", " *"]
    lines += [f" * - {topic}: {line}" if i == 0 else f" *   {line}"
              for topic, text in CHANGE_TOPICS.items()
              for i, line in enumerate(textwrap.wrap(text, WIDTH - 8 - len(topic)))]
    quoted = [f"'{topic}'" for topic in CHANGE_TOPICS]
    return [*lines, " */", f"export type ChangeTopic = {' | '.join(quoted)};",
            f"export const CHANGE_TOPICS: readonly ChangeTopic[] = [{', '.join(quoted)}];", ""]


def render_examples() -> list[str]:
    examples = formats.examples()
    lines = ["/** formatDuration(seconds) must give these texts (formats.format_duration). */",
             "export const DURATION_EXAMPLES: ReadonlyArray<readonly [number, string]> = ["]
    lines += [f"  {json.dumps(pair)}," for pair in examples["duration"]]
    lines += ["];", "",
              "/** progressText(progress, stage) must give these texts (formats.progress_text). */",
              ("export const PROGRESS_EXAMPLES: ReadonlyArray<"
               "readonly [number | null, string | null, string]> = [")]
    lines += [f"  {json.dumps(triple)}," for triple in examples["progress"]]
    return [*lines, "];"]


def render() -> str:
    """The text of ``labextension/src/generated/job.ts``."""
    lines = [
        f"// Generated by `{COMMAND}` from the declaration of a job's fields",
        "// (jobmagics/model.py: JobSettings, JobOptions, JobRecord; see jobmagics/fields.py) and",
        "// from jobmagics/formats.py. Do not edit: change the declaration and run the command.",
        "",
        *render_states(),
        *render_topics(),
    ]
    for interface in interfaces():
        lines += render_interface(interface)
    lines += render_examples()
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the file is not current")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    text = render()
    path: Path = args.output
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != text:
            print(f"{path} is not current: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if current != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
