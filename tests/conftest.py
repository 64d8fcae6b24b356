"""Shared fixtures. Benchmark data comes from METAMATH_DATA_DIR (CI: ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metamath.data.paths import resolve_data_root

# No test may reach the Hub (machines here are offline; retries would cost ~50 s each).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = resolve_data_root()
    if root is None:
        pytest.skip("no local benchmark data (set METAMATH_DATA_DIR)")
    return root


@pytest.fixture(autouse=True, scope="session")
def _quiet_math_verify():
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray instance for the whole session (2 CPUs, like this machine)."""
    import ray

    from metamath.ray_utils import ensure_ray

    os.environ.pop("RAY_ADDRESS", None)
    ensure_ray()
    yield ray
    ray.shutdown()


@pytest.fixture
def scripted():
    """Start a scripted OpenAI-compatible server (a stand-in, not a model) on 127.0.0.1."""
    from metamath.testing.scripted_server import Script, ServerProcess

    servers = []

    def start(**script):
        server = ServerProcess(Script(**script)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """A tiny config-built Llama with the embedded tokenizer (random weights)."""
    from metamath.testing.tiny import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")
