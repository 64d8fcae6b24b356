"""Checks that run before a command does any work (before Ray starts, before a paid request):
each failure names the config key at fault and says what to do."""

from __future__ import annotations

import os

from metamath import storage
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
    from metamath.generation.backends.vllm_backend import require_vllm

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
    for key, path in output_dirs(command, cfg).items():
        check_writable(path, key)


def check_writable(path: str, key: str) -> None:
    """A probe file written and deleted: storage that cannot be used fails here, with the bucket,
    endpoint and where credentials were looked for, instead of after paid work."""
    import pyarrow as pa

    if storage.is_placeholder(path):
        raise ConfigError(f"{key}: {path!r} is a placeholder; put the URI of your own bucket there")
    probe = storage.join(path, f".metamath-write-check-{os.getpid()}")
    try:
        unreachable = storage.unreachable_endpoint(path)
        if unreachable is not None:
            raise unreachable
        storage.makedirs(path)
        storage.write_bytes(probe, b"ok")
        storage.delete(probe)
    except (OSError, pa.ArrowException, storage.StorageError) as exc:
        raise ConfigError(f"{key}: cannot write to {storage.access_problem(path, exc)}") from None


def check_readable(path: str, key: str) -> None:
    """An input that must already exist (a data file, a model folder on a URI)."""
    import pyarrow as pa

    if storage.is_placeholder(path):
        raise ConfigError(f"{key}: {path!r} is a placeholder; put the URI of your own bucket there")
    try:
        unreachable = storage.unreachable_endpoint(path)
        if unreachable is not None:
            raise unreachable
        found = storage.exists(path)
    except (OSError, pa.ArrowException, storage.StorageError) as exc:
        raise ConfigError(f"{key}: cannot read {storage.access_problem(path, exc)}") from None
    if not found:
        raise ConfigError(f"{key}: {path} does not exist")


def _models(command: str, cfg: MetaMathConfig) -> dict[str, str]:
    """The models the command loads that are given as a path or URI (Hub ids and the embedded
    name load anywhere); the pipeline's fine-tuned model does not exist yet."""
    chosen, found = _stages(command, cfg), {}
    if "train" in chosen and cfg.train is not None:
        found["train.model"] = cfg.train.model
    if "evaluate" in chosen and cfg.evaluate is not None and command != "ablate":
        found["evaluate.model"] = cfg.evaluate.model
    return {key: model for key, model in found.items() if storage.is_uri(model) or model.startswith((".", "/", "~"))}


def _inputs(command: str, cfg: MetaMathConfig) -> dict[str, str]:
    """Files the command reads that must exist before it starts (not those an earlier stage makes)."""
    found = {"data.root": cfg.data.root} if cfg.data.root else {}
    if "augment" in _stages(command, cfg) and cfg.augment is not None and cfg.augment.data_path:
        found["augment.data_path"] = cfg.augment.data_path
    if "train" in _stages(command, cfg) and cfg.train is not None and cfg.train.data_path and command != "ablate":
        paths = [cfg.train.data_path] if isinstance(cfg.train.data_path, str) else cfg.train.data_path
        found.update({f"train.data_path[{i}]" if len(paths) > 1 else "train.data_path": p for i, p in enumerate(paths)})
    return {k: v for k, v in found.items() if not v.startswith("hf://")}


def check_inputs(command: str, cfg: MetaMathConfig) -> None:
    for key, path in _inputs(command, cfg).items():
        check_readable(path, key)
    for key, model in _models(command, cfg).items():
        check_readable(storage.join(model, "config.json") if storage.is_uri(model) else model, key)


def output_dirs(command: str, cfg: MetaMathConfig) -> dict[str, str]:
    found = {f"{s}.output_dir": getattr(getattr(cfg, s, None), "output_dir", None) for s in _output_sections(command, cfg)}
    return {key: path for key, path in found.items() if path}


def check_joined_cluster(command: str, cfg: MetaMathConfig) -> None:
    """With RAY_ADDRESS naming a cluster (or a Ray already joined): outputs every node sees, and
    resources some node can give. A Ray of this machine's own needs neither."""
    import sys

    from metamath.ray_utils import cluster_address, ensure_ray

    joined = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    if cluster_address() == "local" and not joined:
        return
    from metamath.cluster import check_cluster

    ensure_ray()
    local_inputs = {k: v for k, v in {**_inputs(command, cfg), **_models(command, cfg)}.items() if storage.is_local(v)}
    check_cluster(_stages(command, cfg), {**output_dirs(command, cfg), **local_inputs}, cfg)


def preflight(command: str, cfg: MetaMathConfig) -> None:
    check_output_dirs(command, cfg)
    check_inputs(command, cfg)
    check_backends(command, cfg)
    check_joined_cluster(command, cfg)
