"""Joining or starting Ray. Local mode keeps the dashboard on 127.0.0.1."""

from __future__ import annotations

import logging
import os


# The CPUs of a light per-row step (a map, a shuffle task, a write). Half a core: a task slot
# for every half core means a worker process for every half core, and each new worker costs
# ~2 s of CPU to import pyarrow, pandas and Ray Data (at 0.25, eight of them on a 2-core
# machine made a cached 75K-sample re-run 49 s instead of 36 s); still small enough to fit
# beside the teacher's actors.
LIGHT_CPUS = 0.5


def ensure_ray() -> None:
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    kwargs = {"logging_level": logging.WARNING, "log_to_driver": True}
    if not address:
        # The dashboard serves the State API that Ray Train's monitors query; loopback only.
        kwargs.update(include_dashboard=True, dashboard_host="127.0.0.1")
    ray.init(address=address, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our own progress bars count samples, not blocks
    ctx.print_on_execution_start = False
    from metamath.interrupts import install_handlers

    install_handlers()


def small_dataset(items: list, rows_per_block: int = 1000):
    """A dataset of a few thousand items made in the driver (questions, benchmark items): in a
    few blocks, since Ray Data's default of one task per few items cost 5 s for 200 here."""
    import ray

    return ray.data.from_items(items, override_num_blocks=max(1, min(64, -(-len(items) // rows_per_block))))
