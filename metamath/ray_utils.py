"""Joining or starting Ray. Local mode keeps the dashboard on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import os
from urllib.parse import urlsplit

from metamath.errors import MetaMathError


# The CPUs of a light per-row step (a map, a shuffle task, a write). Half a core: a task slot
# for every half core means a worker process for every half core, and each new worker costs
# ~2 s of CPU to import pyarrow, pandas and Ray Data (at 0.25, eight of them on a 2-core
# machine made a cached 75K-sample re-run 49 s instead of 36 s); still small enough to fit
# beside the teacher's actors.
LIGHT_CPUS = 0.5


def cluster_address() -> str:
    """RAY_ADDRESS when it names a cluster; otherwise "local": a Ray instance of this job's
    own, never whichever other Ray happens to run on the machine (with two or more, Ray's
    auto-detection fails with "Found multiple active Ray instances")."""
    address = os.environ.get("RAY_ADDRESS", "").strip()
    if not address:
        os.environ.pop("RAY_ADDRESS", None)  # an empty one makes ray.init raise a bare ValueError
        return "local"
    return address


@contextlib.contextmanager
def _sigint_ignored_by_children(local: bool):
    """Ctrl-C in a terminal signals the whole foreground process group, and a local Ray's GCS and
    raylet are in ours: they would die before an interrupted job has stored the replies in flight.
    Processes started while SIGINT is ignored keep ignoring it (a disposition survives exec); the
    command then stops them itself (`interrupts.stop_everything`)."""
    if not local or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _unreachable(address: str, why: str) -> MetaMathError:
    return MetaMathError(f"RAY_ADDRESS={address!r}: cannot connect to a Ray cluster there ({why}); "
                         "unset RAY_ADDRESS to run on this machine alone")


def _check_reachable(address: str) -> None:
    """A cluster's GCS address (`host:port`) that nothing answers fails here, in seconds: ray.init
    retries it for about ten minutes before saying anything."""
    import socket

    host, _, port = address.rpartition(":")
    if urlsplit(address).netloc or not host or not port.isdigit():
        return  # ray:// (Ray Client fails within ~30 s on its own), "auto", or a form Ray parses itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc)) from None


def ensure_ray() -> None:
    import ray

    if ray.is_initialized():
        return
    address = cluster_address()
    if address != "local":
        _check_reachable(address)
    kwargs = {"logging_level": logging.WARNING, "log_to_driver": True}
    if address == "local":
        # The dashboard serves the State API that Ray Train's monitors query; loopback only.
        kwargs.update(include_dashboard=True, dashboard_host="127.0.0.1")
    try:
        with _sigint_ignored_by_children(address == "local"):
            ray.init(address=address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        raise _unreachable(address, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our own progress bars count samples, not blocks
    ctx.print_on_execution_start = False
    from metamath.interrupts import install_handlers

    install_handlers()


def on_driver_node() -> dict:
    """Actor options for a job-wide helper (the rate limiter, a progress tally): on the driver's
    node, which the job cannot outlive anyway, so losing any other node never takes it along.
    The helpers ask for no CPU: a head started with `num_cpus: 0` hosts them."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)}
