"""Checks that run before a command does any work (before Ray starts, before a paid request):
each failure names the config key at fault and says what to do."""

from __future__ import annotations

import os

from metamath.config import MetaMathConfig
from metamath.errors import ConfigError

# command -> the backend keys it uses
_BACKENDS = {
    "augment": [("teacher.backend", lambda cfg: cfg.teacher.backend)],
    "evaluate": [("evaluate.backend", lambda cfg: cfg.evaluate.backend)],
}
_BACKENDS["pipeline"] = _BACKENDS["augment"] + _BACKENDS["evaluate"]
_BACKENDS["ablate"] = _BACKENDS["evaluate"]


def _stages(command: str, cfg: MetaMathConfig) -> list[str]:
    if command == "ablate":
        return ["train", "evaluate"]
    if command != "pipeline":
        return [command]
    return list(cfg.pipeline.stages) if cfg.pipeline else []


def check_backends(command: str, cfg: MetaMathConfig) -> None:
    from metamath.teacher.vllm_backend import require_vllm

    chosen = _stages(command, cfg)
    for key, backend in _BACKENDS.get(command, []):
        section = key.split(".")[0]
        if section == "teacher" and "augment" not in chosen:
            continue
        if section != "teacher" and (getattr(cfg, section) is None or section not in chosen):
            continue
        if backend(cfg) == "vllm":
            require_vllm(key)


def _output_sections(command: str, cfg: MetaMathConfig) -> list[str]:
    if command == "pipeline":
        return ["pipeline", *[s for s in _stages(command, cfg) if getattr(cfg, s, None) is not None]]
    return [command]


def check_output_dirs(command: str, cfg: MetaMathConfig) -> None:
    """Every output folder the command writes is creatable and writable: one line before Ray
    starts, instead of hundreds of lines of worker tracebacks after it (or after paid calls)."""
    for section in _output_sections(command, cfg):
        path = getattr(getattr(cfg, section, None), "output_dir", None)
        if path:
            check_writable(path, f"{section}.output_dir")


def check_writable(path: str, key: str) -> None:
    import pyarrow as pa
    import pyarrow.fs as pafs

    fs, inner = pafs.FileSystem.from_uri(path) if "://" in path else (pafs.LocalFileSystem(), os.path.abspath(path))
    probe = f"{inner.rstrip('/')}/.metamath-write-check-{os.getpid()}"
    try:
        fs.create_dir(inner, recursive=True)
        with fs.open_output_stream(probe) as out:
            out.write(b"ok")
        fs.delete_file(probe)
    except (OSError, pa.ArrowException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{key}: cannot write to {path!r} ({reason}); choose a folder you can write to") from None


def preflight(command: str, cfg: MetaMathConfig) -> None:
    check_output_dirs(command, cfg)
    check_backends(command, cfg)
