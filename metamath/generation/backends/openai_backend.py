"""The `openai` backend: any OpenAI-compatible endpoint through the async `openai` client.

One Ray Data actor keeps a persistent event loop and runs every group of its batch
concurrently; the job-wide `RateLimiter` actor decides how many requests are in flight across
all actors. Retries (429, 5xx, timeouts, connection errors, malformed bodies) use exponential
backoff with jitter and honour Retry-After. A sample that exhausts its retries comes back as
`status="failed"` with its reason, and the job goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from typing import Any

from metamath.config import TeacherConfig
from metamath.errors import EndpointRejected, MetaMathError
from metamath.generation.budget import cost_usd, prompt_bound
from metamath.generation.requests import TeacherResponse, with_params

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
NON_RETRYABLE = {400, 401, 403, 404, 422}
FATAL = {401, 403, 404}  # the key, the access or the model is wrong: every request would fail alike


def api_key(cfg_env: str | None) -> str:
    """The key from the named environment variable; local servers accept any non-empty key."""
    return (os.environ.get(cfg_env) if cfg_env else None) or "EMPTY"


def retry_after_s(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(exc: Exception) -> tuple[str, bool]:
    """(reason, retryable) for an exception raised by a request."""
    import openai

    if isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError)):
        return "timeout", True
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        return f"http_{code}", code not in NON_RETRYABLE
    if isinstance(exc, openai.APIConnectionError):
        return "connection", True
    return "malformed", True  # bad JSON, missing fields, validation errors


def backoff_s(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * (0.5 + rng.random())
    return max(delay, retry_after or 0.0)


class BudgetRefused(Exception):
    """The run's budget cannot cover this request: it is not sent."""


def maybe_billed(exc: Exception) -> bool:
    """A request that timed out or lost its connection may have been served (and billed)."""
    import openai

    return isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError, openai.APIConnectionError))


def _choices(completion: Any) -> list[tuple[str, str | None]]:
    """Validated (text, finish_reason) pairs; raises ValueError on a malformed body."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ValueError("response has no choices")
    out = []
    for choice in choices:
        message = getattr(choice, "message", None)  # chat; a completion choice has .text
        text = getattr(message, "content", None) if message is not None else getattr(choice, "text", None)
        if not isinstance(text, str):
            raise ValueError("choice without text content")
        out.append((text, getattr(choice, "finish_reason", None)))
    return out


class OpenAIGroupRunner:
    """Runs request groups against one endpoint; shared by augment and evaluate."""

    def __init__(self, cfg: TeacherConfig, limiter: Any, on_response=None, on_send=None, owner: str = "") -> None:
        from openai import AsyncOpenAI

        from metamath.generation.backends.limiter import PermitClient

        self.cfg = cfg
        # Per-request permits where the limiter must see each request: rate limits and budgets.
        budgeted = cfg.max_cost_usd is not None or cfg.max_requests is not None
        self.permits = PermitClient(limiter, recycle=cfg.requests_per_minute is None and cfg.tokens_per_minute is None
                                    and not budgeted, owner=owner)
        self.prices = dict(cfg.price_per_million)
        self.on_response = on_response or (lambda response: None)
        self.on_send = on_send or (lambda prompt_tokens, completion_tokens: None)  # the ledger, before each request
        self.client = AsyncOpenAI(base_url=cfg.base_url, api_key=api_key(cfg.api_key_env),
                                  max_retries=0, timeout=cfg.timeout_s)
        self.rng = random.Random()
        self.rejection: EndpointRejected | None = None  # once refused, nothing more is sent

    async def _create(self, messages: list | str, keys: list[str], cfg: TeacherConfig):
        if isinstance(messages, str):
            return await self._complete(messages, keys, cfg)
        n = len(keys)
        # The header names our content keys so a server-side log can be audited; it carries
        # no secret and OpenAI-compatible servers ignore it.
        # The messages go in `extra_body`, which the SDK merges into the JSON body as is: the
        # same bytes on the wire, without the SDK's per-request parameter transform, which walks
        # every message against its TypedDicts and costs ~12 ms for an 8-shot prompt (measured:
        # 60% of client CPU, capping a 2-core machine near 150 requests/s).
        kwargs = dict(model=self.cfg.model, messages=[], temperature=cfg.temperature,
                      top_p=cfg.top_p, max_tokens=cfg.max_tokens,
                      extra_body={"messages": messages},
                      extra_headers={"X-MetaMath-Keys": ",".join(keys)})
        if n > 1:
            kwargs["n"] = n
        if cfg.stop:
            kwargs["stop"] = cfg.stop
        return await asyncio.wait_for(self.client.chat.completions.create(**kwargs), self.cfg.timeout_s)

    async def _complete(self, prompt: str, keys: list[str], cfg: TeacherConfig):
        """A raw prompt (the paper's evaluation template) goes to the completions endpoint."""
        kwargs = dict(model=self.cfg.model, prompt=prompt, temperature=cfg.temperature, top_p=cfg.top_p,
                      max_tokens=cfg.max_tokens, extra_headers={"X-MetaMath-Keys": ",".join(keys)})
        if len(keys) > 1:
            kwargs["n"] = len(keys)
        if cfg.stop:
            kwargs["stop"] = cfg.stop
        return await asyncio.wait_for(self.client.completions.create(**kwargs), self.cfg.timeout_s)

    async def _attempt(self, messages: list, keys: list[str], estimate: int, prompt_max: int, cfg: TeacherConfig):
        bound = cost_usd(self.prices, prompt_max, cfg.max_tokens * len(keys))
        if not await self.permits.acquire(estimate, bound):
            raise BudgetRefused()
        used, spent, started = None, 0.0, time.monotonic()
        try:
            if self.rejection is not None:  # refused while this one waited for its permit
                raise self.rejection
            recorded = self.on_send(estimate - cfg.max_tokens, cfg.max_tokens * len(keys))
            if recorded is not None:  # the ledger on an object store: the line is uploaded first
                await recorded
            completion = await self._create(messages, keys, cfg)
            pairs = _choices(completion)
            usage = getattr(completion, "usage", None)
            prompt, completion = getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0
            used, spent = prompt + completion, cost_usd(self.prices, prompt, completion)
            return pairs, usage, time.monotonic() - started
        except Exception as exc:
            spent = None if maybe_billed(exc) else 0.0  # None: the budget keeps the bound
            raise
        finally:
            self.permits.release(estimate, used, bound, spent)

    async def run_group(self, messages_json: str, keys: list[str], params: str = "") -> list[TeacherResponse]:
        """All samples of one prompt. Asks for n = what is still missing, so a server that
        ignores `n` (returns one choice) is simply asked again. HTTP requests and retries are
        attributed to the first row each call produces, so sums over rows are exact. `params`:
        the group's own sampling parameters (RequestGroup.params), else the runner's config's."""
        cfg = with_params(self.cfg, params)
        messages = json.loads(messages_json)
        estimate = len(messages_json) // 4 + cfg.max_tokens
        prompt_max = prompt_bound(messages_json)
        pending, done = list(keys), []
        calls, unattributed, total_retries = 0, {}, 0
        while pending:
            if self.rejection is not None:
                raise self.rejection
            calls += 1
            try:
                pairs, usage, latency = await self._attempt(messages, pending, estimate, prompt_max, cfg)
            except BudgetRefused:  # not sent: the next run buys these
                done += self._emit([TeacherResponse(k, None, "failed", "budget") for k in pending], calls - 1, unattributed)
                break
            except Exception as exc:  # every failure is classified and accounted
                if isinstance(exc, EndpointRejected):
                    raise
                if getattr(exc, "status_code", None) in FATAL:
                    self.rejection = self.rejection or rejected(exc, self.cfg)
                    raise self.rejection from None
                reason, retryable = classify(exc)
                if not retryable or total_retries >= self.cfg.max_retries:
                    done += self._emit([TeacherResponse(k, None, "failed", reason) for k in pending], calls, unattributed)
                    break
                unattributed[reason] = unattributed.get(reason, 0) + 1
                total_retries += 1
                wait = retry_after_s(exc)
                if reason == "http_429" and wait:
                    self.permits.pause(wait)
                await asyncio.sleep(backoff_s(total_retries - 1, wait, self.rng))
                continue
            prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
            completion_tokens = getattr(usage, "completion_tokens", 0) or 0
            share = completion_tokens // max(1, len(pairs))
            now = time.time()
            rows = [TeacherResponse(pending[i], text, "ok", None, finish, prompt_tokens if i == 0 else 0, share,
                                    latency_s=latency, finished_at=now)
                    for i, (text, finish) in enumerate(pairs[: len(pending)])]
            done += self._emit(rows, calls, unattributed)
            calls, unattributed = 0, {}
            pending = pending[len(pairs):]
        return done

    def _emit(self, rows: list[TeacherResponse], calls: int, retries: dict) -> list[TeacherResponse]:
        for i, row in enumerate(rows):
            row.attempts = calls if i == 0 else 0
            row.retries = dict(retries) if i == 0 else {}
            self.on_response(row)
        return rows


def rejected(exc: Exception, cfg: TeacherConfig) -> EndpointRejected:
    """The server's own message, with the key blanked out should the server echo it."""
    code = getattr(exc, "status_code", "?")
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    message = (body.get("message") if isinstance(body, dict) else None) or str(getattr(exc, "message", None) or exc)
    key = os.environ.get(cfg.api_key_env or "") or ""
    if len(key) >= 8:
        message = message.replace(key, "***")
    hint = {401: f"check ${cfg.api_key_env}", 403: f"check the access of ${cfg.api_key_env}",
            404: "check teacher.model and teacher.base_url"}.get(code, "")
    return EndpointRejected(f"teacher endpoint {cfg.base_url or 'api.openai.com'} rejected the request with HTTP "
                            f"{code}: {message[:500]}" + (f" ({hint})" if hint else ""))


async def check_endpoint(cfg: TeacherConfig) -> None:
    """Fail fast, before any work, when the endpoint cannot be reached at all."""
    import openai
    from openai import AsyncOpenAI

    if not cfg.base_url and not os.environ.get(cfg.api_key_env or ""):
        raise MetaMathError(f"teacher.base_url is not set and ${cfg.api_key_env} is empty: no endpoint to call")
    client = AsyncOpenAI(base_url=cfg.base_url, api_key=api_key(cfg.api_key_env), max_retries=0, timeout=10)
    try:
        await client.models.list()
    except openai.APIConnectionError as exc:
        raise MetaMathError(f"teacher endpoint {cfg.base_url or 'api.openai.com'} is unreachable ({exc})") from None
    except openai.APIStatusError as exc:
        if exc.status_code in (401, 403):
            raise rejected(exc, cfg) from None
        # reachable; some servers have no /models route (404, 405): an unknown model shows on
        # the first request, which stops the job just the same
    finally:
        await client.close()


class LoopThread:
    """A persistent event loop in a daemon thread: actors keep their HTTP clients across batches."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()
