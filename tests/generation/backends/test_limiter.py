import asyncio
import time

import pytest

from metamath.generation.backends.limiter import Limits, PermitClient, RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_concurrency_cap():
    limits = Limits(2, clock=Clock())
    limits.take(0)
    limits.take(0)
    assert limits.wait_time(0) > 0
    limits.give_back(0, None)
    assert limits.wait_time(0) == 0


def test_requests_per_minute_window():
    clock = Clock()
    limits = Limits(100, requests_per_minute=3, clock=clock)
    for _ in range(3):
        assert limits.wait_time(0) == 0
        limits.take(0)
        limits.give_back(0, None)
    assert 59 < limits.wait_time(0) <= 60
    clock.now += 60.01
    assert limits.wait_time(0) == 0


def test_tokens_per_minute_and_correction():
    clock = Clock()
    limits = Limits(100, tokens_per_minute=1000, clock=clock)
    limits.take(600)
    assert limits.wait_time(300) == 0
    assert limits.wait_time(500) > 0
    limits.give_back(600, 100)  # the request really used 100 tokens
    assert limits.wait_time(800) == 0


def test_pause_from_retry_after():
    clock = Clock()
    limits = Limits(10, clock=clock)
    limits.pause(5)
    assert 4.9 < limits.wait_time(0) <= 5
    assert abs(limits.pause_deadline() - (time.time() + 5)) < 0.5


def _run_clients(limiter, recycle, workers=3, tasks=40, cap=5):
    """Several permit clients (as several workers would) share one actor; record concurrency."""
    state = {"now": 0, "peak": 0, "done": 0}

    async def worker():
        client = PermitClient(limiter, recycle=recycle)

        async def one():
            await client.acquire(10)
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.01)
            state["now"] -= 1
            state["done"] += 1
            client.release(10, 10)

        await asyncio.gather(*(one() for _ in range(tasks)))
        while client.fetching:  # a lease still on its way must land (and go back) before the loop ends
            await asyncio.sleep(0.01)

    async def main():
        await asyncio.gather(*(worker() for _ in range(workers)))

    asyncio.run(main())
    return state


def test_job_wide_cap_holds_with_leased_permits(ray_local):
    limiter = RateLimiter.remote(5)
    state = _run_clients(limiter, recycle=True)
    assert state["done"] == 120 and state["peak"] <= 5
    time.sleep(0.2)
    stats = ray_local.get(limiter.stats.remote())
    assert stats["in_flight"] == 0 and stats["peak_in_flight"] <= 5  # every permit came back


def test_job_wide_cap_holds_per_request(ray_local):
    limiter = RateLimiter.remote(4, requests_per_minute=10_000)
    state = _run_clients(limiter, recycle=False, workers=2, tasks=20, cap=4)
    assert state["done"] == 40 and state["peak"] <= 4


def test_a_restarted_worker_takes_back_the_permits_its_dead_predecessor_held(ray_local):
    limiter = RateLimiter.remote(2)
    assert ray_local.get(limiter.lease.remote(2, "actor-a/proc-1")) == 2  # then proc-1 is killed
    waiting = limiter.lease.remote(1, "actor-b/proc-1")  # another worker: blocked on the cap
    stale = limiter.lease.remote(1, "actor-a/proc-1")  # a call the dead process left behind
    ready, _ = ray_local.wait([waiting], timeout=1.5)
    assert ready == []
    assert ray_local.get(limiter.reclaim.remote("actor-a", "actor-a/proc-2")) == 2
    assert ray_local.get(waiting, timeout=10) == 1  # the job's concurrency is whole again
    ray_local.get(stale, timeout=10)  # granted to the dead process: handed straight back
    time.sleep(0.2)
    assert ray_local.get(limiter.stats.remote())["in_flight"] == 1  # only actor-b's permit is out


def test_the_limiter_refuses_a_permit_past_the_budget(ray_local):
    import ray

    from metamath.generation.budget import Budget

    limiter = RateLimiter.remote(8, None, None, Budget(max_cost_usd=1.0, prices={"prompt": 1.0}))
    assert ray.get(limiter.acquire.remote(0, "w", 0.6)) is True
    assert ray.get(limiter.acquire.remote(0, "w", 0.6)) is False  # 0.6 in flight + 0.6 > 1
    limiter.release.remote(0, None, "w", 0.6, 0.1)
    assert ray.get(limiter.acquire.remote(0, "w", 0.6)) is True
    stats = ray.get(limiter.stats.remote())
    assert stats["in_flight"] == 1 and stats["budget"]["refused"] == 1
    assert stats["budget"]["spent_usd"] == pytest.approx(0.1)
