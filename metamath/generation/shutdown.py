"""Stopping a teacher round on Ctrl-C or SIGTERM without losing what was paid for.

Every round that calls an API registers its limiter here. On an interrupt the driver drains
them: no permit is granted any more, so nothing new is sent, and the requests in flight get
`shutdown_grace_s` to come back; the workers store each reply as it arrives. Then the driver
says how many responses are on file, and that re-running the command resumes from them.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

POLL_S = 0.2


@dataclass
class LiveRound:
    limiter: Any
    grace_s: float
    store_root: str
    run_id: str  # the run's tag without its round: what this run stored


_LIVE: list[LiveRound] = []


def register(limiter: Any, grace_s: float, store_root: str, run_tag: str) -> None:
    _drop(store_root)  # a store's earlier rounds are over
    _LIVE.append(LiveRound(limiter, grace_s, store_root, run_tag.split(":", 1)[0]))


def forget(store_root: str) -> None:
    """A round of this store is over: its limiter actor ends now. Left to reference counting it
    lives as long as any copy of its handle (the finished actor pool's constructor arguments),
    and in a long-lived driver (a pipeline, an ablation grid, a notebook) each would keep a
    process of its own."""
    import ray

    for live in _drop(store_root):
        ray.kill(live.limiter, no_restart=True)


def _drop(store_root: str) -> list[LiveRound]:
    """The store's rounds, taken off the registry."""
    dropped = [r for r in _LIVE if r.store_root == store_root]
    _LIVE[:] = [r for r in _LIVE if r.store_root != store_root]
    return dropped


def drain_live_rounds() -> str | None:
    """Stop sending, wait for the requests in flight, and describe what is stored; None when no
    API round was running. A second interrupt ends the wait at once."""
    if not _LIVE:
        return None
    import ray

    rounds, _LIVE[:] = list(_LIVE), []
    waiting = 0
    try:
        waiting = sum(ray.get([r.limiter.drain.remote() for r in rounds], timeout=10))
        deadline = time.monotonic() + max(r.grace_s for r in rounds)
        if waiting:
            print(f"\ninterrupted: nothing more is sent; waiting up to {max(r.grace_s for r in rounds):.0f} s for "
                  f"{waiting} request(s) in flight (interrupt again to stop now)", file=sys.stderr, flush=True)
        while waiting and time.monotonic() < deadline:
            time.sleep(POLL_S)
            waiting = sum(s["in_flight"] for s in ray.get([r.limiter.stats.remote() for r in rounds], timeout=10))
    except KeyboardInterrupt:
        pass  # a second interrupt: stop waiting
    except Exception:  # noqa: BLE001 - Ray itself is going down: say what is on file all the same
        pass
    return _describe(rounds, waiting)


def _describe(rounds: list[LiveRound], abandoned: int) -> str:
    from metamath.generation.cache.store import Store

    parts = []
    for live in {r.store_root: r for r in rounds}.values():
        mine, total = Store(live.store_root).responses_on_file(live.run_id)
        parts.append(f"{mine} response(s) stored by this run, {total} on file in {live.store_root}")
    lost = f"; {abandoned} request(s) still in flight were abandoned" if abandoned else ""
    return "; ".join(parts) + lost
