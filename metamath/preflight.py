"""Checks that run before a command does any work (before Ray starts, before a paid request):
each failure names the config key at fault and says what to do."""

from __future__ import annotations

from metamath.config import MetaMathConfig

# command -> the backend keys it uses
_BACKENDS = {
    "augment": [("teacher.backend", lambda cfg: cfg.teacher.backend)],
    "evaluate": [("evaluate.backend", lambda cfg: cfg.evaluate.backend)],
}
_BACKENDS["pipeline"] = _BACKENDS["augment"] + _BACKENDS["evaluate"]


def _stages(command: str, cfg: MetaMathConfig) -> list[str]:
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


def preflight(command: str, cfg: MetaMathConfig) -> None:
    check_backends(command, cfg)
