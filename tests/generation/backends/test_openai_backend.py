"""The openai backend against a SCRIPTED OpenAI-compatible server on 127.0.0.1."""

import asyncio
import json

import pytest

from metamath.config import TeacherConfig
from metamath.errors import MetaMathError
from metamath.generation.backends.limiter import RateLimiter
from metamath.generation.backends.openai_backend import OpenAIGroupRunner, check_endpoint
from metamath.generation.requests import make_group

MESSAGES = [{"role": "system", "content": "solve"}, {"role": "user", "content": "What is 1+1?"}]


def _run(cfg, groups):
    stored = []
    runner = OpenAIGroupRunner(cfg, RateLimiter.remote(cfg.max_concurrency), stored.append)

    async def main():
        return await asyncio.gather(*(runner.run_group(g.messages, g.keys) for g in groups))

    return [r for group in asyncio.run(main()) for r in group], stored


def _cfg(url, **kw):
    return TeacherConfig(backend="openai", model="scripted", base_url=url, **kw)


@pytest.mark.parametrize("honour_n", [True, False])
def test_n_samples_whether_or_not_server_honours_n(ray_local, scripted, tmp_path, honour_n):
    log = tmp_path / "log.jsonl"
    server = scripted(honour_n=honour_n, answers={"What is 1+1?": "2"}, log_path=str(log))
    cfg = _cfg(server.base_url)
    group = make_group(cfg, MESSAGES, 4, {})
    responses, stored = _run(cfg, [group])
    assert [r.key for r in responses] == group.keys and all(r.status == "ok" for r in responses)
    assert all(r.text.endswith("The answer is: 2") for r in responses)  # the messages reached the server
    assert len({r.text for r in responses}) == 4 and len(stored) == 4
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == (1 if honour_n else 4)
    assert sum(r.attempts for r in responses) == len(calls)


def test_backoff_doubles_with_jitter_up_to_a_cap_and_retry_after_wins():
    import random

    from metamath.generation.backends.openai_backend import BACKOFF_BASE_S, BACKOFF_CAP_S, backoff_s

    rng = random.Random(0)
    for attempt in range(12):
        delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
        assert all(0.5 * delay <= backoff_s(attempt, None, rng) <= 1.5 * delay for _ in range(50))
    assert len({backoff_s(3, None, rng) for _ in range(20)}) == 20  # jittered: retries do not move in step
    assert backoff_s(0, 7.0, rng) == 7.0  # a server's Retry-After is honoured when longer


def test_every_fault_is_retried_and_counted(ray_local, scripted, monkeypatch):
    from metamath.generation.backends import openai_backend

    # the waits themselves: test_backoff_... above; here 5 retries at 0.5 s doubling would be ~15 s
    monkeypatch.setattr(openai_backend, "BACKOFF_BASE_S", 0.01)
    faults = [{"every": 1, "fault": f, "attempts": i + 1, "retry_after": 0.2}
              for i, f in enumerate(["429", "500", "malformed", "no_choices", "hang"])]
    # attempt 1 -> 429, 2 -> 500, 3 -> malformed, 4 -> no choices, 5 -> hang, 6 -> ok
    server = scripted(faults=faults, hang_s=5)
    cfg = _cfg(server.base_url, timeout_s=1.0, max_retries=6)
    (response,), _ = _run(cfg, [make_group(cfg, MESSAGES, 1, {})])
    assert response.status == "ok" and response.attempts == 6
    assert response.retries == {"http_429": 1, "http_500": 1, "malformed": 2, "timeout": 1}


def test_exhausted_retries_are_recorded_and_others_go_on(ray_local, scripted):
    server = scripted(faults=[{"every": 2, "fault": "500", "attempts": 99}])
    cfg = _cfg(server.base_url, max_retries=2)
    groups = [make_group(cfg, [{"role": "user", "content": f"q{i}"}], 2, {}) for i in range(8)]
    responses, stored = _run(cfg, groups)
    assert len(responses) == 16 and len(stored) == 16
    failed = [r for r in responses if r.status == "failed"]
    assert failed and all(r.reason == "http_500" for r in failed)
    assert any(r.status == "ok" for r in responses)
    assert sum(r.attempts for r in failed) == 3 * len(failed) // 2  # 1 try + 2 retries per failed group


def test_a_wrong_route_or_model_is_not_retried_but_stops_everything(ray_local, scripted):
    from metamath.errors import EndpointRejected

    server = scripted()
    cfg = TeacherConfig(backend="openai", model="scripted", base_url=server.base_url.replace("/v1", "/nope"))
    with pytest.raises(EndpointRejected, match="HTTP 404"):  # every other request would fail alike
        _run(cfg, [make_group(cfg, MESSAGES, 1, {})])


def test_unreachable_endpoint_fails_fast():
    cfg = TeacherConfig(backend="openai", model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(MetaMathError, match="127.0.0.1:9/v1 is unreachable"):
        asyncio.run(check_endpoint(cfg))
