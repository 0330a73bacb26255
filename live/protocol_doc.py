"""Writes docs/protocol.md's tables of server events, acks and payload types from the models themselves.

    python -m live.protocol_doc            # rewrites the generated blocks of docs/protocol.md
    python -m live.protocol_doc --check    # exit status 1 (and says which block) when the file is out of date

The models in `live.rooms.outbound` are the protocol; the page only describes them, so its tables are
generated rather than kept by hand (a test fails when they differ). Each block sits between
`<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`; the prose around them is the
page's own. A payload is written `{field: type, optional?: type}`: `time` is ISO 8601 UTC with a `Z`,
a model's name is a type of the types table, an event's name stands for that event's payload, and an
optional field is absent (not null) when it does not apply. A model's docstring says who receives it
and when; a field's `description` adds a note.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
import types
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

from live.rooms.outbound import ACKS, SECTIONS
from live.rooms.server_events import NEVER_NULL, ServerEvent

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
_BLOCK = re.compile(r"(<!-- BEGIN generated: (?P<name>[\w:-]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)", re.S)


def render_type(annotation: Any) -> str:
    """A field's type as the page writes it (see the module docstring)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return render_type(args[0])
    if annotation is Any:
        return "any"
    if annotation is type(None):
        return "null"
    if annotation in (datetime, AwareDatetime):
        return "time"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "number"
    if annotation is str:
        return "str"
    if origin is Literal:
        return " | ".join(json.dumps(value.value if isinstance(value, Enum) else value) for value in args)
    if inspect.isclass(annotation) and issubclass(annotation, Enum):
        return " | ".join(json.dumps(member.value) for member in annotation)
    if inspect.isclass(annotation) and issubclass(annotation, ServerEvent):
        return annotation.event
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation.__name__
    if origin in (Union, types.UnionType):
        return " | ".join(render_type(arg) for arg in args)
    if origin is list:
        return f"[{render_type(args[0])}]"
    if origin is dict:
        return "object" if args[1] is Any else f"{{{render_type(args[0])}: {render_type(args[1])}}}"
    raise TypeError(f"live.protocol_doc cannot write the type {annotation!r}; teach render_type it.")


def render_payload(model: type[BaseModel]) -> str:
    fields = []
    for name, info in model.model_fields.items():
        label = (info.alias or name) + ("" if info.is_required() else "?")
        annotation: Any = info.annotation
        if NEVER_NULL in info.metadata:  # `Omittable[X]`: absent or X, never null
            annotation = Union[tuple(arg for arg in get_args(annotation) if arg is not type(None))]  # noqa: UP007
        fields.append(f"{label}: {render_type(annotation)}")
    return "{" + ", ".join(fields) + "}"


def _sentence(text: str | None) -> str:
    return " ".join(inspect.cleandoc(text).split()) if text else ""


def render_notes(model: type[BaseModel]) -> str:
    """The model's docstring, then each described field's note."""
    notes = [_sentence(model.__doc__)]
    for name, info in model.model_fields.items():
        if info.description:
            notes.append(f"`{info.alias or name}`: {_sentence(info.description)}.")
    return " ".join(note for note in notes if note)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return _cell(f"`{text}`")


def events_table(models: Iterable[type[ServerEvent]]) -> str:
    rows = ["| event | payload | to whom, and when |", "|---|---|---|"]
    for model in models:
        rows.append(f"| {_code(model.event)} | {_code(render_payload(model))} | {_cell(render_notes(model))} |")
    return "\n".join(rows) + "\n"


def acks_table() -> str:
    rows = ["| client event | ack | |", "|---|---|---|"]
    for event, model in ACKS.items():
        rows.append(f"| {_code(event)} | {_code(render_payload(model))} | {_cell(render_notes(model))} |")
    return "\n".join(rows) + "\n"


def _nested(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """The non-event models a model's fields use, depth first, each once per call."""

    def walk(annotation: Any) -> Iterator[type[BaseModel]]:
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            if not issubclass(annotation, ServerEvent):
                yield annotation
                yield from _nested(annotation)
            return
        for arg in get_args(annotation):
            yield from walk(arg)

    for info in model.model_fields.values():
        yield from walk(info.annotation)


def types_table() -> str:
    roots: list[type[BaseModel]] = [m for models in SECTIONS.values() for m in models] + list(ACKS.values())
    seen: dict[str, type[BaseModel]] = {}
    for root in roots:
        for model in _nested(root):
            seen.setdefault(model.__name__, model)
    rows = ["| type | fields | |", "|---|---|---|"]
    for name, model in seen.items():
        rows.append(f"| {_code(name)} | {_code(render_payload(model))} | {_cell(render_notes(model))} |")
    return "\n".join(rows) + "\n"


def blocks() -> dict[str, str]:
    """Block name -> its generated Markdown."""
    generated = {f"server-events:{section}": events_table(models) for section, models in SECTIONS.items()}
    generated["types"] = types_table()
    generated["acks"] = acks_table()
    return generated


def render(text: str) -> str:
    """`text` with every generated block rewritten; refuses a block the page lacks or one it does not know."""
    generated = blocks()
    present = {match["name"] for match in _BLOCK.finditer(text)}
    missing, unknown = sorted(generated.keys() - present), sorted(present - generated.keys())
    if missing or unknown:
        raise ValueError(f"docs/protocol.md: blocks missing {missing}, unknown {unknown}.")
    # Blank lines around each table, so that Markdown never reads a marker as part of it.
    return _BLOCK.sub(lambda m: m.group(1) + "\n" + generated[m["name"]] + "\n" + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m live.protocol_doc", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    parser.add_argument("--path", type=Path, default=DOC)
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(f"{args.path} is out of date: run python -m live.protocol_doc", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.path.write_text(new, encoding="utf-8")
        print(f"{args.path} rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
