"""Shared fixtures. Benchmark data comes from METAMATH_DATA_DIR (CI: ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metamath.data.paths import resolve_data_root

# No test may reach the Hub (machines here are offline; retries would cost ~50 s each).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Object storage for the tests: a real S3 API server (moto's ThreadedMotoServer, `s3_server`) on
# loopback. Its address goes into the environment now, before any Ray starts, so that every Ray
# worker (and every CLI the tests spawn) inherits it; the server itself starts on first use.
S3_ENDPOINT = f"http://127.0.0.1:{_free_port()}"
os.environ.update(AWS_ENDPOINT_URL=S3_ENDPOINT, AWS_ACCESS_KEY_ID="metamath-tests", AWS_SECRET_ACCESS_KEY="metamath-tests",
                  AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = resolve_data_root()
    if root is None:
        pytest.skip("no local benchmark data (set METAMATH_DATA_DIR)")
    return Path(root)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API server on 127.0.0.1 (moto), reached through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    port = int(S3_ENDPOINT.rsplit(":", 1)[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield S3_ENDPOINT
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, request):
    """A fresh bucket for one test: `s3://<bucket>`."""
    import re
    import uuid

    import boto3

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return f"s3://{name}"


def s3_keys(uri: str) -> list[str]:
    """Every object key under `uri` (s3://bucket/prefix)."""
    import boto3

    bucket, _, prefix = uri[len("s3://"):].partition("/")
    pages = boto3.client("s3", endpoint_url=S3_ENDPOINT).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


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
