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
# A teacher key as a cluster's nodes hold one (cluster.yaml exports it where Ray starts): in every
# Ray process's environment, so the job-submission test can check it never leaks from there.
NODE_SECRET = "sk-test-" + "7" * 24
os.environ["METAMATH_TEST_KEY"] = NODE_SECRET
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


class MultiNode:
    """A Ray cluster of several raylets on this machine (Ray's own `cluster_utils.Cluster`): a head
    with no CPU, as cluster.yaml's, and worker nodes; `lose` kills one without warning (a
    preempted spot node) and adds a fresh one in its place."""

    def __init__(self, worker_cpus: float, workers: int = 2) -> None:
        from ray.cluster_utils import Cluster

        self.cpus = worker_cpus
        head = {"num_cpus": 0, "include_dashboard": True, "dashboard_host": "127.0.0.1",
                "dashboard_port": _free_port(),  # the session's Ray holds the default port
                # A lost node is declared dead after 3 missed health checks 1 s apart (Ray's
                # defaults: 5 at 3 s, 15 s and more of every node-loss test spent waiting); each
                # check still waits 3 s, so a raylet slowed by a busy 2-core machine is not lost.
                "_system_config": {"health_check_period_ms": 1000, "health_check_timeout_ms": 3000,
                                   "health_check_failure_threshold": 3}}
        self.cluster = Cluster(initialize_head=True, connect=False, head_node_args=head)
        self.workers = [self.cluster.add_node(num_cpus=worker_cpus) for _ in range(workers)]
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address

    def env(self) -> dict[str, str]:
        return {**os.environ, "RAY_ADDRESS": self.address, "PYTHONUNBUFFERED": "1"}

    def lose(self, node_id: str) -> None:
        victim = next(n for n in self.workers if n.node_id == node_id)
        self.cluster.remove_node(victim, allow_graceful=False)
        self.workers.remove(victim)
        self.workers.append(self.cluster.add_node(num_cpus=self.cpus))

    def alive_actors(self, class_fragment: str) -> list:
        """(class name, node id) of the live actors whose class name holds `class_fragment`."""
        import json
        import subprocess
        import sys

        # the dashboard named explicitly: left to itself, the state API asks whichever Ray this
        # machine started last (the test session's own one, or this cluster)
        script = ("import json, ray; from ray.util.state import list_actors;"
                  "ctx = ray.init(address=%r, logging_level='ERROR');"
                  "print(json.dumps([(a.class_name, a.node_id) for a in list_actors("
                  "address='http://' + ctx.dashboard_url, filters=[('state', '=', 'ALIVE')])]))")
        out = subprocess.run([sys.executable, "-c", script % self.address], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip(), out.stderr[-3000:]
        return [(name, node) for name, node in json.loads(out.stdout.strip().splitlines()[-1] or "[]")
                if class_fragment in name]

    def shutdown(self) -> None:
        self.cluster.shutdown()


@pytest.fixture(scope="session")
def multinode(s3_server, ray_local):
    """Head (0 CPUs) + two 2-CPU worker nodes. Outputs go to the S3 server: a local folder is not
    shared between nodes. Its tests run last (`pytest_collection_modifyitems`): the cluster lives
    only while they run, not beside the rest of the suite on 2 cores."""
    from ray._private.utils import write_ray_address

    cluster = MultiNode(worker_cpus=2)
    # A head started on this machine names itself the Ray that `address="auto"` finds, which is how
    # a job submitted to the session's Ray resolves its cluster: the session's Ray is named again.
    write_ray_address(ray_local.get_runtime_context().gcs_address)
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="session")
def session_ray_env(ray_local) -> dict[str, str]:
    """The environment for a CLI subprocess that joins the session's Ray (as a command run on a
    cluster does) instead of starting and stopping a Ray of its own (10-15 s each on 2 cores)."""
    address = ray_local.get_runtime_context().gcs_address
    return {**os.environ, "RAY_ADDRESS": address, "PYTHONUNBUFFERED": "1"}


# The suite's budget (issue 30): `make test` within 15 minutes on a 2-core machine. Printed at
# the end of every run, so that the next feature sees what it costs.
SUITE_BUDGET_S = 15 * 60


def pytest_collection_modifyitems(session, config, items):
    """The tests on the 3-node cluster run together, last (a stable sort keeps each group's order)."""
    items.sort(key=lambda item: "multinode" in getattr(item, "fixturenames", ()))


def pytest_runtest_teardown(item, nextitem):
    """A test that ends a Ray Data execution with an exception (a refused key, a failed round)
    leaves that execution's actor pool alive, holding its CPUs in the session's Ray, until the
    executor is garbage-collected: every later test would run on fewer CPUs. Collect now."""
    if {"ray_local", "session_ray_env", "multinode"} & set(getattr(item, "fixturenames", ())):
        import gc

        gc.collect()


def pytest_collection_finish(session):
    """The modules the tests load in this process, loaded now and frozen out of the collector:
    each collection above then walks only what the tests made (a full one walks every object
    torch, transformers and Ray hold: ~0.6 s at each of ~50 tests). Only these are frozen: an
    actor pool a test leaves behind must stay collectable."""
    import gc

    import ray.data  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401

    gc.collect()
    gc.freeze()


def pytest_sessionstart(session):
    import time

    session.config.suite_started = time.time()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    per_test: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) in ("setup", "call", "teardown") and hasattr(report, "duration"):
                per_test[report.nodeid] = per_test.get(report.nodeid, 0.0) + report.duration
    if not per_test:
        return
    import time

    wall = time.time() - getattr(config, "suite_started", time.time())
    terminalreporter.section("slow-test budget")
    for nodeid, seconds in sorted(per_test.items(), key=lambda item: -item[1])[:10]:
        terminalreporter.write_line(f"{seconds:7.1f} s  {nodeid}")
    verdict = "within" if wall <= SUITE_BUDGET_S else "OVER"
    terminalreporter.write_line(f"suite: {wall / 60:.1f} min for {len(per_test)} tests, {verdict} the "
                                f"{SUITE_BUDGET_S // 60}-minute budget (slowest ten above)")
