"""Load a YAML config, apply `dotted.key=value` overrides, validate into MetaMathConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from metamath.config.schema import MetaMathConfig
from metamath.errors import ConfigError

__all__ = ["ConfigError", "load_config", "parse_overrides", "validate_config"]


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{line} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """`a.b=1` -> {"a.b": 1}; values are YAML (lists, mappings, numbers, null)."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected dotted.key=value")
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from None
    return parsed


def apply_override(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError(f"override {dotted}: {prefix} is a {type(child).__name__}, not a section")
        node = child
    node[parts[-1]] = value


def _explain(exc: ValidationError, source: str, overrides: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<top>"
        origin = next((f"override {k}" for k in overrides if key == k or key.startswith(k + ".")), source)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        got = "" if err["type"] in ("missing", "extra_forbidden") else f" (got {err.get('input')!r})"
        lines.append(f"  {key}: {msg}{got}  [{origin}]")
    return f"{source}: invalid config\n" + "\n".join(lines)


def validate_config(data: dict[str, Any], source: str, overrides: dict[str, Any] | None = None) -> MetaMathConfig:
    overrides = overrides or {}
    try:
        cfg = MetaMathConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, overrides)) from None
    cfg.source = source
    return cfg


def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> MetaMathConfig:
    """Read `path` (or start empty), apply overrides, validate. Raises ConfigError."""
    data = read_yaml(path) if path is not None else {}
    parsed = parse_overrides(overrides)
    for dotted, value in parsed.items():
        apply_override(data, dotted, value)
    return anchor_outputs(validate_config(data, str(path) if path is not None else "<no config file>", parsed))


OUTPUT_ROOT_ENV = "METAMATH_OUTPUT_ROOT"


def anchor_outputs(cfg: MetaMathConfig) -> MetaMathConfig:
    """Relative output dirs resolve against $METAMATH_OUTPUT_ROOT when it is set. A job sent
    with `ray job submit --working-dir .` runs in a temporary copy of the project; this keeps
    its outputs where the user can find them (URIs and absolute paths are left alone)."""
    import os

    from metamath import storage

    root = os.environ.get(OUTPUT_ROOT_ENV)
    if not root:
        return cfg
    updates = {}
    for name in ("augment", "train", "evaluate", "pipeline"):
        section = getattr(cfg, name)
        out = getattr(section, "output_dir", None) if section is not None else None
        if out and storage.is_local(out) and not os.path.isabs(out):
            updates[name] = section.model_copy(update={"output_dir": storage.join(root, out)})
    return cfg.model_copy(update=updates)
