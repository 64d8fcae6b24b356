"""Checks against the Ray cluster a command joined, before any work: outputs that every node can
see, and resources that some node can give. Each failure is one line naming the config key, what
was asked and what the cluster has, instead of a job that writes where the driver cannot read,
or waits forever for a node that never comes.

A cluster started with an autoscaler (`ray up`) reports its node types; a request that fits one
of them is fine even when no such node runs yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from metamath import storage
from metamath.config import MetaMathConfig
from metamath.config.schema import EvaluateConfig, TeacherConfig, TrainConfig
from metamath.errors import ConfigError

OPENAI_WORKER_CPUS = 0.5  # generation/backends/dispatch.py: the API actors


@dataclass(frozen=True)
class Ask:
    """`count` actors (or workers) of `bundle` resources each, for `key`'s stage."""

    key: str
    what: str
    bundle: dict[str, float]
    count: int

    def describe(self) -> str:
        return f"{self.count} x {_fmt(self.bundle)} ({self.what})"


@dataclass(frozen=True)
class Capacity:
    nodes: list[dict[str, float]]  # every alive node's total resources
    node_types: list[dict[str, float]]  # the autoscaler's worker types (empty: no autoscaler)

    @property
    def multi_node(self) -> bool:
        return len(self.nodes) > 1 or bool(self.node_types)

    def describe(self) -> str:
        nodes = ", ".join(_fmt(n) for n in self.nodes) or "none"
        types = f"; node types the autoscaler can add: {', '.join(_fmt(t) for t in self.node_types)}" \
            if self.node_types else " (no autoscaler: no node will be added)"
        return f"nodes {nodes}{types}"


def _fmt(resources: dict[str, float]) -> str:
    shown = {k: (int(v) if float(v).is_integer() else v) for k, v in sorted(resources.items()) if k in ("CPU", "GPU")}
    return "{" + ", ".join(f"{k}: {v}" for k, v in shown.items()) + "}"


def backend_asks(section: str, backend: str, cfg: TeacherConfig | EvaluateConfig) -> list[Ask]:
    """The actors a teacher or decoder round starts."""
    gpu = {"GPU": 1.0} if cfg.use_gpu else {}
    if backend == "openai":
        return [Ask(f"{section}.replicas", "API workers", {"CPU": OPENAI_WORKER_CPUS}, cfg.replicas)]
    if backend == "hf":
        return [Ask(f"{section}.replicas", "transformers workers", {"CPU": 1.0, **gpu}, cfg.replicas)]
    # vLLM: one bundle per tensor-parallel rank (generation/backends/vllm_backend.placement)
    return [Ask(f"{section}.replicas", f"vLLM engines of {cfg.tensor_parallel_size} rank(s)", {"CPU": 1.0, **gpu},
                cfg.replicas * cfg.tensor_parallel_size)]


def train_asks(cfg: TrainConfig) -> list[Ask]:
    bundle = {k: float(v) for k, v in (cfg.resources_per_worker or {"CPU": 1}).items()}
    if cfg.use_gpu:
        bundle.setdefault("GPU", 1.0)
    return [Ask("train.num_workers", "training workers", bundle, cfg.num_workers)]


def stage_asks(stage: str, cfg: MetaMathConfig) -> list[Ask]:
    if stage == "augment":
        return backend_asks("teacher", cfg.teacher.backend, cfg.teacher)
    if stage == "train":
        return train_asks(cfg.train)
    return backend_asks("evaluate", cfg.evaluate.backend, cfg.evaluate)


def _fits(bundle: dict[str, float], node: dict[str, float]) -> bool:
    return all(node.get(k, 0.0) >= v for k, v in bundle.items() if v)


def _packs(ask: Ask, nodes: list[dict[str, float]]) -> bool:
    """Whether `ask.count` bundles fit on these nodes at once (first fit)."""
    free = [dict(n) for n in nodes]
    for _ in range(ask.count):
        node = next((n for n in free if _fits(ask.bundle, n)), None)
        if node is None:
            return False
        for k, v in ask.bundle.items():
            node[k] = node.get(k, 0.0) - v
    return True


def check_fit(ask: Ask, capacity: Capacity) -> None:
    """One bundle must fit some node or node type; without an autoscaler, all of them at once."""
    if not any(_fits(ask.bundle, n) for n in capacity.nodes + capacity.node_types):
        raise ConfigError(f"{ask.key}: asks {ask.describe()}, and no node of this cluster has {_fmt(ask.bundle)}: "
                          f"{capacity.describe()}")
    if not capacity.node_types and not _packs(ask, capacity.nodes):
        raise ConfigError(f"{ask.key}: asks {ask.describe()}, more than this cluster holds at once: "
                          f"{capacity.describe()}; lower {ask.key} or add nodes")


def check_shared_outputs(outputs: dict[str, str], cfg: MetaMathConfig, capacity: Capacity) -> None:
    """On several nodes, an output every node can see: a URI, or a declared shared folder."""
    if not capacity.multi_node:
        return
    shared = [storage.absolute(p).rstrip("/") + "/" for p in cfg.storage.shared_paths]
    for key, path in outputs.items():
        if storage.is_uri(path) or any(storage.absolute(path).rstrip("/") + "/" == s or
                                       storage.absolute(path).startswith(s) for s in shared):
            continue
        raise ConfigError(f"{key}: {path!r} is a folder on one machine, and this cluster has "
                          f"{len(capacity.nodes)} node(s){' and an autoscaler' if capacity.node_types else ''}: "
                          "workers elsewhere would write where the driver cannot read; use a URI (s3://BUCKET/...), "
                          "or list a folder every node mounts under storage.shared_paths")


def cluster_capacity() -> Capacity:
    """The alive nodes of the cluster this process joined, and the autoscaler's node types."""
    import ray

    nodes = [{k: float(v) for k, v in n["Resources"].items()} for n in ray.nodes() if n.get("Alive")]
    return Capacity(nodes, _autoscaler_node_types())


def _autoscaler_node_types() -> list[dict[str, float]]:
    try:  # the autoscaler's config in the GCS (none on a cluster without one)
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # noqa: BLE001 - an older or newer Ray: no node types known
        return []
    if config is None:
        return []
    return [{k: float(v) for k, v in group.resources.items()} for group in config.node_group_configs
            if group.max_count != 0]


def check_cluster(stages: list[str], outputs: dict[str, str], cfg: MetaMathConfig) -> None:
    capacity = cluster_capacity()
    check_shared_outputs(outputs, cfg, capacity)
    for stage in stages:
        for ask in stage_asks(stage, cfg):
            check_fit(ask, capacity)
