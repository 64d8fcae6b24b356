"""A job-wide limiter shared by every worker: requests in flight, requests/min, tokens/min,
and a global pause when the server says 429 with Retry-After.

`Limits` holds the arithmetic (plain Python, unit-testable); `RateLimiter` is the Ray actor
around it; `PermitClient` is each worker's side. With requests/min or tokens/min set, every
request asks the actor (`acquire`/`release`). With only a concurrency cap, a worker leases
permits in bulk and hands a finished request's permit to its next waiting request: the actor
still counts every leased permit, so the cap holds job-wide, at a fraction of the RPCs.
Pause deadlines are wall-clock times, so every process can compare them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

import ray

from metamath.generation.budget import Budget

WINDOW_S = 60.0
CAPACITY_RECHECK_S = 1.0  # waiters blocked on the cap are woken by release; this is a safety net


class Limits:
    def __init__(self, max_concurrency: int, requests_per_minute: int | None = None,
                 tokens_per_minute: int | None = None, clock=time.monotonic) -> None:
        self.max_concurrency = max_concurrency
        self.rpm = requests_per_minute
        self.tpm = tokens_per_minute
        self.clock = clock
        self.in_flight = 0
        self.paused_until = 0.0
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.token_sum = 0
        self.peak_in_flight = 0
        self.draining = False  # stopping: no permit is granted any more

    def _expire(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW_S:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW_S:
            self.token_sum -= self.tokens.popleft()[1]

    def wait_time(self, tokens: int) -> float:
        """0 when a request of `tokens` may start now, else seconds to wait (a guess; re-check)."""
        if self.draining:
            return math.inf
        now = self.clock()
        self._expire(now)
        waits = [self.paused_until - now]
        if self.in_flight >= self.max_concurrency:
            waits.append(CAPACITY_RECHECK_S)  # a release wakes waiters sooner
        if self.rpm is not None and len(self.requests) >= self.rpm:
            waits.append(self.requests[0] + WINDOW_S - now)
        if self.tpm is not None and self.tokens and self.token_sum + tokens > self.tpm:
            waits.append(self.tokens[0][0] + WINDOW_S - now)
        return max(0.0, *waits)

    def take(self, tokens: int) -> None:
        now = self.clock()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.requests.append(now)
        self.tokens.append((now, tokens))
        self.token_sum += tokens

    def give_back(self, estimated: int, actual: int | None) -> None:
        self.in_flight -= 1
        if actual is not None and self.tokens:
            # correct the window with what the request really used
            self.tokens.append((self.clock(), actual - estimated))
            self.token_sum += actual - estimated

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def pause_deadline(self) -> float:
        """The pause as a wall-clock time (the clock may be monotonic, per process); infinite
        while draining, so that workers stop handing permits to their waiting requests."""
        if self.draining:
            return math.inf
        return time.time() + max(0.0, self.paused_until - self.clock())


@ray.remote(num_cpus=0)
class RateLimiter:
    """Permits are counted per holder (`owner`: a worker's actor id and process), so that the
    permits of a worker that died are taken back when Ray restarts it: otherwise each death
    would shrink the job's concurrency for good, and enough of them would stall it."""

    def __init__(self, max_concurrency: int, requests_per_minute: int | None = None,
                 tokens_per_minute: int | None = None, budget: Budget | None = None) -> None:
        self.limits = Limits(max_concurrency, requests_per_minute, tokens_per_minute)
        self.budget = budget  # the run's cost cap: checked as a request gets its permit
        self.changed = asyncio.Event()
        self.held: dict[str, int] = {}
        self.dead: set[str] = set()

    def _count(self, owner: str, permits: int) -> None:
        if owner in self.dead:  # granted to a worker that is gone: straight back
            for _ in range(permits):
                self.limits.give_back(0, None)
            self.changed.set()
            return
        self.held[owner] = self.held.get(owner, 0) + permits

    async def _take(self, tokens: int) -> None:
        while True:
            wait = self.limits.wait_time(tokens)
            if wait <= 0:
                self.limits.take(tokens)
                return
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=min(wait, WINDOW_S))
            except asyncio.TimeoutError:
                pass

    async def acquire(self, tokens: int = 0, owner: str = "", bound_usd: float = 0.0) -> bool:
        """A permit; False (and none taken) when the budget cannot cover `bound_usd` more."""
        self.held.setdefault(owner, 0)  # known from its first call, so a reclaim finds it
        await self._take(tokens)
        if self.budget is not None and not self.budget.admit(bound_usd):
            self.limits.give_back(0, None)
            self.changed.set()
            return False
        self._count(owner, 1)
        return True

    def release(self, estimated: int = 0, actual: int | None = None, owner: str = "",
                bound_usd: float = 0.0, actual_usd: float | None = 0.0) -> None:
        if self.budget is not None:
            self.budget.settle(bound_usd, actual_usd)
        if owner in self.dead:
            return  # already taken back with the rest of its permits
        self.held[owner] = self.held.get(owner, 0) - 1
        self.limits.give_back(estimated, actual)
        self.changed.set()

    async def lease(self, wanted: int, owner: str = "") -> int:
        """Up to `wanted` permits (at least one), when the cap and any pause allow."""
        self.held.setdefault(owner, 0)
        await self._take(0)
        granted = 1
        while granted < wanted and self.limits.wait_time(0) <= 0:
            self.limits.take(0)
            granted += 1
        self._count(owner, granted)
        return granted

    def give_back(self, permits: int, owner: str = "") -> None:
        if owner in self.dead:
            return
        self.held[owner] = self.held.get(owner, 0) - permits
        for _ in range(permits):
            self.limits.give_back(0, None)
        self.changed.set()

    def reclaim(self, actor: str, alive: str) -> int:
        """A restarted worker (`alive`) reports its actor: the permits its dead predecessors of
        the same actor held come back. Returns how many."""
        freed = 0
        for owner in [o for o in self.held if o.split("/", 1)[0] == actor and o != alive and o not in self.dead]:
            self.dead.add(owner)
            freed += max(0, self.held.pop(owner))
        for _ in range(freed):
            self.limits.give_back(0, None)
        self.changed.set()
        return freed

    def pause_deadline(self) -> float:
        return self.limits.pause_deadline()

    def pause(self, seconds: float) -> None:
        self.limits.pause(seconds)

    def drain(self) -> int:
        """Stop granting permits (an interrupted job); returns the requests still in flight."""
        self.limits.draining = True
        return self.limits.in_flight

    def stats(self) -> dict:
        return {"in_flight": self.limits.in_flight, "peak_in_flight": self.limits.peak_in_flight,
                "paused_until": self.limits.paused_until,
                "budget": self.budget.summary() if self.budget is not None else None}


class PermitClient:
    """A worker's side of the limiter; lives on the worker's event loop."""

    POLL_S = 0.2

    def __init__(self, limiter, recycle: bool, owner: str = "") -> None:
        self.limiter = limiter
        self.recycle = recycle
        self.owner = owner  # this worker's actor id and process, so a restart can reclaim its permits
        self.waiters: deque[asyncio.Future] = deque()
        self.fetching = False
        self.pause_until = 0.0
        self.watcher: asyncio.Future | None = None

    async def _watch_pauses(self) -> None:
        """Keeps `pause_until` fresh, also while no request asks for a permit: a finished
        request hands its permit on locally, and must know by then that the job is draining."""
        while True:
            try:
                self.pause_until = max(self.pause_until, await self.limiter.pause_deadline.remote())
            except Exception:  # noqa: BLE001 - the limiter is gone: the job is ending
                return
            await asyncio.sleep(self.POLL_S)

    async def _respect_pause(self) -> None:
        if self.watcher is None:
            self.watcher = asyncio.ensure_future(self._watch_pauses())
            await asyncio.sleep(0)
        while time.time() < self.pause_until:  # forever once draining: the process is about to go
            await asyncio.sleep(min(self.pause_until - time.time(), 1.0))

    def pause(self, seconds: float) -> None:
        self.pause_until = max(self.pause_until, time.time() + seconds)
        self.limiter.pause.remote(seconds)

    async def acquire(self, tokens: int, bound_usd: float = 0.0) -> bool:
        """Waits for a permit; False when the run's budget refused it (no permit is then held)."""
        await self._respect_pause()
        if not self.recycle:
            return await self.limiter.acquire.remote(tokens, self.owner, bound_usd)
        future = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        if not self.fetching:
            self.fetching = True  # set before the task runs: one lease call in flight per worker
            asyncio.ensure_future(self._fetch())
        await future
        return True

    async def _fetch(self) -> None:
        try:
            while self.waiters:
                granted = await self.limiter.lease.remote(len(self.waiters), self.owner)
                for _ in range(granted):
                    self._hand_over()
        finally:
            self.fetching = False

    def _hand_over(self) -> None:
        """A permit goes to this worker's next waiting request, or back to the actor: a
        permit is never held idle, or another worker could wait on it forever. Once the job
        drains, it goes back: the actor counts what is still in flight."""
        while self.waiters and self.pause_until != math.inf:
            future = self.waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.limiter.give_back.remote(1, self.owner)

    def release(self, estimated: int, actual: int | None, bound_usd: float = 0.0, actual_usd: float | None = 0.0) -> None:
        if not self.recycle:
            self.limiter.release.remote(estimated, actual, self.owner, bound_usd, actual_usd)
        else:
            self._hand_over()
