"""run_groups through Ray Data against a SCRIPTED OpenAI-compatible server on 127.0.0.1."""

import json

from metamath.config import TeacherConfig
from metamath.teacher.requests import make_group
from metamath.teacher.runner import run_groups


def _peak_in_flight(log_path) -> int:
    """Most requests the server held at once, from its arrival and reply times."""
    calls = [json.loads(line) for line in open(log_path)]
    events = sorted([(c["arrived"], 1) for c in calls] + [(c["t"], -1) for c in calls])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_concurrency_cap_holds_job_wide_and_is_used(ray_local, scripted, tmp_path):
    """Two actors, several batches each at once: the server never sees more than
    max_concurrency requests, yet sees nearly that many (batch tails do not idle permits)."""
    log = tmp_path / "server.jsonl"
    server = scripted(latency_s=0.15, log_path=str(log))
    cfg = TeacherConfig(backend="openai", model="scripted", base_url=server.base_url, max_concurrency=6, replicas=2)
    groups = [make_group(cfg, [{"role": "user", "content": f"What is {i}+1?"}], 1, {"i": i}) for i in range(90)]
    run = run_groups(groups, cfg, str(tmp_path / "store"), "test")
    sent = [json.loads(line)["keys"] for line in open(log)]
    assert run.samples_ok == 90 and sorted(sent) == sorted(g.keys[0] for g in groups)  # each sent once
    assert 5 <= _peak_in_flight(log) <= 6
