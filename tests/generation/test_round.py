"""run_round through Ray Data against a SCRIPTED OpenAI-compatible server on 127.0.0.1."""

import json
import time

import ray

from metamath.config import TeacherConfig
from metamath.generation.requests import make_group
from metamath.generation.round import run_round
from metamath.ray_data import read_shards
from metamath.generation.cache.store import Store


def _peak_in_flight(log_path) -> int:
    """Most requests the server held at once, from its arrival and reply times."""
    calls = [json.loads(line) for line in open(log_path)]
    events = sorted([(c["arrived"], 1) for c in calls] + [(c["t"], -1) for c in calls])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def _groups(groups):
    return ray.data.from_items([g.to_row() for g in groups])


def _live_limiters() -> set[str]:
    from ray.util.state import list_actors

    return {a.actor_id for a in list_actors(filters=[("class_name", "=", "RateLimiter"), ("state", "=", "ALIVE")],
                                           limit=10_000)}


def test_concurrency_cap_holds_job_wide_and_is_used(ray_local, scripted, tmp_path):
    """Two actors, several batches each at once: the server never sees more than
    max_concurrency requests, yet sees nearly that many (batch tails do not idle permits). The
    round's limiter actor ends with the round (a long-lived driver would gather one per store)."""
    before = _live_limiters()
    log = tmp_path / "server.jsonl"
    server = scripted(latency_s=0.15, log_path=str(log))
    cfg = TeacherConfig(backend="openai", model="scripted", base_url=server.base_url, max_concurrency=6, replicas=2)
    groups = [make_group(cfg, [{"role": "user", "content": f"What is {i}+1?"}], 1, {"i": i}) for i in range(90)]
    done = run_round(_groups(groups), cfg, str(tmp_path / "store"), str(tmp_path / "out"), "test", "t")
    sent = [json.loads(line)["keys"] for line in open(log)]
    assert done.run.samples_ok == 90 and sorted(sent) == sorted(g.keys[0] for g in groups)  # each sent once
    assert 5 <= _peak_in_flight(log) <= 6
    deadline = time.time() + 10
    while _live_limiters() - before and time.time() < deadline:  # the kill at the round's end takes a moment
        time.sleep(0.2)
    assert not _live_limiters() - before


def test_a_prompt_asked_twice_is_sent_once_and_both_askers_get_it(ray_local, scripted, tmp_path):
    """Duplicate items (DROP has 538): one request, one row per asker, the copy marked reused."""
    log = tmp_path / "server.jsonl"
    server = scripted(log_path=str(log))
    cfg = TeacherConfig(backend="openai", model="scripted", base_url=server.base_url)
    ask = [{"role": "user", "content": "What is 2+2?"}]
    groups = [make_group(cfg, ask, 2, {"id": "a"}), make_group(cfg, ask, 2, {"id": "b"}),
              make_group(cfg, [{"role": "user", "content": "What is 3+3?"}], 1, {"id": "c"})]
    done = run_round(_groups(groups), cfg, str(tmp_path / "store"), str(tmp_path / "out"), "test", "t")
    rows = read_shards(done.path).take_all()
    assert len(log.read_text().splitlines()) == 2 and done.rows == 5
    assert sorted(json.loads(r["meta"])["id"] for r in rows) == ["a", "a", "b", "b", "c"]
    assert sum(r["reused"] for r in rows) == 2 and done.run.reused == 2 and done.run.samples_ok == 3
    # a second round over the same groups sends nothing: every sample comes from the store, and
    # it counts as the first did: 3 samples (now on file) and 2 copies
    again = run_round(_groups(groups), cfg, str(tmp_path / "store"), str(tmp_path / "out2"), "test", "t2")
    assert len(log.read_text().splitlines()) == 2 and again.run.sent == 0
    assert again.run.from_cache == 3 and again.run.reused == 2 and again.rows == 5
    assert Store(str(tmp_path / "store")).journal_files() == []  # compacted into a segment
