"""The configuration reference (docs/configuration.md) generated from the schema itself: every
section and key with its type, default and the comment beside it in `schema.py`, so that the
docs cannot drift from what the loader accepts (tests/config/test_reference.py compares them).

    python -m metamath.config.reference --write docs/configuration.md
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from metamath.config.schema import MetaMathConfig

MARKER = "<!-- generated from metamath/config/schema.py by `python -m metamath.config.reference`: edit there -->"
_FIELD = re.compile(r"^    (\w+): ")
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def field_comments(cls: type) -> dict[str, str]:
    """key -> the comment lines right above its definition and the one after it, for `cls` and
    the sections it inherits keys from."""
    comments: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if issubclass(k, BaseModel) and k is not BaseModel]):
        pending: list[str] = []
        for line in inspect.getsource(klass).splitlines()[1:]:
            stripped = line.strip()
            if stripped.startswith("#") and line.startswith("    #"):
                pending.append(stripped.lstrip("# ").rstrip())
                continue
            match = _FIELD.match(line)
            if match:
                trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
                comments[match.group(1)] = " ".join(pending + ([trailing] if trailing else []))
            if not line.startswith("        "):  # a continuation line keeps what is pending
                pending = []
    return comments


def type_name(annotation: Any, metadata: list | None = None) -> str:
    """A type as a reader of YAML thinks of it: `int > 0`, `a | b`, `list of str`, `... or null`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        text = " \\| ".join(json.dumps(a) if isinstance(a, str) else str(a) for a in args)
    elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        rest = [a for a in args if a is not type(None)]
        text = " or ".join(type_name(a) for a in rest) + (" or null" if len(rest) < len(args) else "")
    elif origin is typing.Annotated:
        text = type_name(args[0], list(args[1:]))
    elif origin in (list, dict):
        text = (f"list of {type_name(args[0])}" if origin is list
                else f"map of {type_name(args[0])} to {type_name(args[1])}") if args else origin.__name__
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        text = "section"
    else:
        text = getattr(annotation, "__name__", str(annotation)).replace("typing.", "")
    for item in metadata or []:
        for attr, sign in _BOUNDS.items():
            if getattr(item, attr, None) is not None:
                text += f" {sign} {getattr(item, attr)}"
    return text


def default_text(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(its keys below)"
    return "`" + json.dumps(value) + "`"


def section_table(path: str, cls: type) -> list[str]:
    """One section's heading, docstring and table, then its sub-sections'."""
    doc = " ".join((inspect.getdoc(cls) or "").split()) if cls.__doc__ else ""
    lines = [f"## `{path}`", "", *([doc, ""] if doc else []), "| key | type | default | what |", "|---|---|---|---|"]
    comments, nested = field_comments(cls), []
    for name, field in cls.model_fields.items():
        if field.exclude:
            continue
        lines.append(f"| `{name}` | {type_name(field.annotation, field.metadata)} | {default_text(field)} "
                     f"| {comments.get(name, '').replace('|', '&#124;')} |")
        inner = [a for a in (field.annotation, *typing.get_args(field.annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        nested += [(f"{path}.{name}", inner[0])] if inner else []
    for sub_path, sub in nested:
        lines += ["", *section_table(sub_path, sub)]
    return lines


def render_reference() -> str:
    lines = [MARKER, ""]
    for name, field in MetaMathConfig.model_fields.items():
        inner = [a for a in (field.annotation, *typing.get_args(field.annotation))
                 if isinstance(a, type) and issubclass(a, BaseModel)]
        if inner and not field.exclude:
            lines += [*section_table(name, inner[0]), ""]
    return "\n".join(lines)


def write_reference(path: str) -> None:
    """Replace what follows the marker in `path` (the hand-written part above it stays)."""
    with open(path) as f:
        head = f.read().split(MARKER)[0]
    with open(path, "w") as f:
        f.write(head + render_reference())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write_reference(sys.argv[2])
    else:
        print(render_reference())
