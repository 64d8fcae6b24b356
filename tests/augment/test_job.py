"""The augment job end to end: real local Ray, a SCRIPTED OpenAI-compatible server for faults and
kill -9, a real `transformers serve`, and the hf backend on the embedded model."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from metamath.augment.job import run_augment
from metamath.augment.tasks import AugmentContext, round1
from metamath.config import load_config
from metamath.config.loader import validate_config
from metamath.data import load_benchmark
from metamath.prompts import select_solve_shots
from metamath.records import read_records
from metamath.generation.cache.store import load_responses
from tests.augment.conftest import augment_config, oracle

pytestmark = pytest.mark.slow


def _overrides(out, url, limit, **extra):
    base = {"augment.dataset": "gsm8k", "augment.limit": limit, "augment.output_dir": str(out),
            "augment.samples": "{ansaug: 2, rephrase: 1, rephrase_solve: 1, sv: 1, fobar: 2, masks_per_question: 2}",
            "teacher.backend": "openai", "teacher.base_url": url, "teacher.model": "scripted",
            "teacher.max_concurrency": 8, **extra}
    return [f"{k}={v}" for k, v in base.items()]


def _oracle(limit):
    return {p.question: p.gold for p in load_benchmark("gsm8k", "train", limit=limit).problems}


def test_faults_lose_no_row_and_every_failure_is_accounted(ray_local, scripted, tmp_path):
    faults = [{"every": 3, "fault": "429", "retry_after": 0.5}, {"every": 5, "offset": 1, "fault": "500"},
              {"every": 7, "offset": 2, "fault": "hang"}, {"every": 11, "offset": 3, "fault": "malformed"}]
    server = scripted(faults=faults, hang_s=5, answers=_oracle(12))
    cfg = load_config(None, _overrides(tmp_path, server.base_url, 12, **{"teacher.timeout_s": 1.5}))
    stats = run_augment(cfg)
    req = stats["requests"]
    assert req["sent"] == req["succeeded"] + req["retried_total"] + req["failed_total"]
    assert set(req["retried"]) == {"http_429", "http_500", "timeout", "malformed"} and req["failed_total"] == 0
    # every planned solve came back and was judged: nothing lost on the way
    problems = load_benchmark("gsm8k", "train", limit=12).problems
    train = load_benchmark("gsm8k", "train").problems
    ctx = AugmentContext(cfg.augment, cfg.teacher, select_solve_shots(train, 0))
    planned = [json.loads(g.meta) | {"n": len(g.keys)} for p in problems for g in round1(p, ctx)[0]]
    types = stats["types"]
    assert types["GSM_AnsAug"]["generated"] == sum(m["n"] for m in planned if m["method"] == "ansaug") == 24
    assert types["GSM_FOBAR"]["generated"] == sum(m["n"] for m in planned if m["method"] == "fobar")
    assert types["GSM_Rephrased"]["generated"] == 12
    for entry in types.values():
        assert entry["generated"] == entry["correct"] + sum(
            v for k, v in entry["dropped"].items() if k in ("wrong_answer", "no_answer"))
    assert types["GSM_AnsAug"]["correct"] == 24 and types["GSM_Rephrased"]["correct"] == 12  # the oracle's answers
    records, _ = read_records(str(tmp_path / "metamathqa.parquet"))
    assert records == read_records(str(tmp_path / "metamathqa.jsonl"))[0] and len(records) == stats["rows"]
    assert json.loads((tmp_path / "stats.json").read_text())["rows"] == len(records)


def test_exhausted_retries_are_reported_and_the_job_finishes(ray_local, scripted, tmp_path):
    server = scripted(faults=[{"every": 4, "fault": "500", "attempts": 99}], answers=_oracle(6))
    stats = run_augment(load_config(None, _overrides(tmp_path, server.base_url, 6, **{"teacher.max_retries": 1})))
    req = stats["requests"]
    assert req["failed"].get("http_500", 0) > 0 and req["samples_failed"] > 0
    assert sum(t["dropped"].get("request_failed", 0) for t in stats["types"].values()) > 0
    assert req["sent"] == req["succeeded"] + req["retried_total"] + req["failed_total"]


def _server_requests(log):
    return [json.loads(line) for line in Path(log).read_text().splitlines()] if Path(log).exists() else []


@pytest.mark.parametrize("code", ["401", "404"])
def test_a_rejected_key_or_model_stops_the_job_at_the_first_answer(ray_local, scripted, tmp_path, code):
    from metamath.errors import EndpointRejected, user_error

    log = tmp_path / "server.jsonl"
    server = scripted(faults=[{"every": 1, "fault": code, "attempts": 99}], models_status=404, log_path=str(log))
    with pytest.raises(Exception) as info:
        run_augment(load_config(None, _overrides(tmp_path / "out", server.base_url, 12)))
    found = user_error(info.value)
    assert isinstance(found, EndpointRejected), info.value
    assert f"HTTP {code}" in str(found) and ("Incorrect API key" in str(found) or "does not exist" in str(found))
    planned = 12 * 4  # far more requests than went out: no retry, no second batch
    assert 0 < len(_server_requests(log)) <= 16 < planned


def test_a_key_refused_by_the_models_route_fails_before_any_request(ray_local, scripted, tmp_path):
    from metamath.errors import EndpointRejected

    log = tmp_path / "server.jsonl"
    server = scripted(models_status=401, log_path=str(log))
    with pytest.raises(EndpointRejected, match="HTTP 401: Incorrect API key"):
        run_augment(load_config(None, _overrides(tmp_path / "out", server.base_url, 4)))
    assert _server_requests(log) == []


def test_a_run_whose_every_request_failed_exits_non_zero_after_writing_its_stats(ray_local, scripted, tmp_path):
    from metamath.errors import AllRequestsFailed

    server = scripted(faults=[{"every": 1, "fault": "500", "attempts": 99}])
    overrides = _overrides(tmp_path, server.base_url, 3, **{"teacher.max_retries": 0, "augment.methods": "[ansaug]"})
    with pytest.raises(AllRequestsFailed, match=r"all 3 teacher requests failed \(http_500 3\)"):
        run_augment(load_config(None, overrides))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["requests"]["failed"] == {"http_500": 3} and stats["types"]["GSM_AnsAug"]["generated"] == 0


def _write_config(path, out, url):
    path.write_text(yaml.safe_dump(augment_config(out, url)))
    return path


def _cli(config, env):
    return subprocess.Popen([sys.executable, "-m", "metamath", "augment", "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stored_lines(root):
    return sum(len(p.read_text().splitlines()) for p in Path(root).glob("*.jsonl")) if Path(root).is_dir() else 0


def _teacher_workers(besides: frozenset = frozenset()) -> list:
    """Teacher actor processes on this machine, less `besides` (those alive before the command
    started: an in-process run's actor pools may linger in the session's Ray)."""
    import psutil

    return [p for p in psutil.process_iter(["cmdline"])
            if "OpenAIWorker" in " ".join(p.info["cmdline"] or []) and p.pid not in besides]


def test_kill_9_resumes_without_resending_and_matches_an_uninterrupted_run(session_ray_env, scripted,
                                                                           reference_augment, tmp_path):
    """The command attached to a running Ray (as on a cluster) is killed -9 mid-round; its
    workers go with it. The re-run sends nothing that was stored and ends with the reference
    run's dataset and counts."""
    log = tmp_path / "server.jsonl"
    server = scripted(latency_s=0.4, answers=oracle(), log_path=str(log))
    killed = tmp_path / "killed"
    config = _write_config(tmp_path / "a.yaml", killed, server.base_url)
    before = frozenset(p.pid for p in _teacher_workers())
    proc = _cli(config, session_ray_env)
    deadline = time.time() + 120
    while _stored_lines(killed / "responses") < 10 and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 60
    while _teacher_workers(before) and time.time() < deadline:  # Ray ends a dead driver's workers
        time.sleep(0.2)
    time.sleep(1.0)  # a request in flight at the kill may still reach the server's log
    kill_time = time.time()
    stored = set(load_responses(str(killed / "responses"))[0])
    assert 10 <= len(stored) and not (killed / "metamathqa.jsonl").exists() and not _teacher_workers(before)
    # the re-run in this process, on the same Ray: the command's own start is the killed run's
    run_augment(validate_config(yaml.safe_load(config.read_text()), str(config)))
    resent = [k for entry in map(json.loads, log.read_text().splitlines()) if entry["t"] > kill_time
              for k in entry["keys"].split(",") if k in stored]
    assert resent == []
    stats = json.loads((killed / "stats.json").read_text())
    assert stats["requests"]["served_from_cache"] >= len(stored)
    assert (killed / "metamathqa.jsonl").read_text() == (reference_augment / "metamathqa.jsonl").read_text()
    # the counts agree too: a resumed run counts each sample once, whether bought now or before
    resumed, fresh = stats, json.loads((reference_augment / "stats.json").read_text())
    total = lambda s: s["requests"]["samples_generated"] + s["requests"]["served_from_cache"]  # noqa: E731
    assert total(resumed) == total(fresh) and resumed["types"] == fresh["types"], (resumed, fresh)
    # (a re-run of a finished job sending nothing: tests/generation/test_round.py, test_ctrl_c_... below)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_hf_backend_runs_every_method_and_a_rerun_resumes_from_the_store(ray_local, tiny_llama, tmp_path):
    """The hf backend's plumbing on a tiny random Llama with the embedded model's tokenizer and chat
    template (its real weights: tests/augment/test_job_vllm.py and `make demo`)."""
    cfg = load_config(None, [
        "augment.dataset=gsm8k", "augment.limit=2", f"augment.output_dir={tmp_path}", "augment.shots=2",
        "augment.samples={ansaug: 1, rephrase: 1, rephrase_solve: 1, sv: 1, fobar: 1, masks_per_question: 1}",
        f"teacher.model={tiny_llama}", "teacher.backend=hf", "teacher.max_tokens=48", "teacher.batch_size=4"])
    stats = run_augment(cfg)
    types = stats["types"]
    assert set(types) == {"GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR"}
    assert types["GSM_AnsAug"]["generated"] == 2 and types["GSM_FOBAR"]["generated"] == 2
    assert stats["requests"]["samples_failed"] == 0 and stats["requests"]["completion_tokens"] > 0
    assert (tmp_path / "metamathqa.parquet").is_file()
    again = run_augment(cfg)  # every step finished: each is skipped, its result read from work/steps.json
    assert again["requests"]["sent"] == 0 and again["rows"] == stats["rows"] and again["types"] == types
    assert all(step["skipped"] for step in again["driver"]["steps"].values()), again["driver"]["steps"]
    bought = stats["requests"]["samples_generated"] + stats["requests"]["served_from_cache"]
    assert again["requests"]["served_from_cache"] == bought and again["cost"] == stats["cost"] | {
        "this_run": 0.0, "online": 0.0, "not_repaid_from_cache": again["cost"]["not_repaid_from_cache"]}
    (tmp_path / "work" / "steps.json").unlink()  # the store alone: every round looked up, nothing sent
    from_store = run_augment(cfg)
    assert from_store["requests"]["sent"] == 0 and from_store["types"] == types
    assert from_store["requests"]["served_from_cache"] == bought
    assert not any(step["skipped"] for step in from_store["driver"]["steps"].values())


def _ledger_sent(out) -> int:
    return sum(p.read_text().count('"event": "sent"') for p in Path(out, "responses", "ledger").rglob("*.jsonl"))


def test_ctrl_c_stops_sending_and_stores_the_replies_in_flight(session_ray_env, scripted, tmp_path):
    """Attached to a running Ray, as on a cluster (a command with a Ray of its own is stopped
    whole by tests/test_interrupts.py)."""
    log = tmp_path / "server.jsonl"
    # 6 s per reply: the window between "4 sent" and "a reply came back" must outlast a loaded CI machine
    server = scripted(latency_s=6.0, answers=_oracle(8), log_path=str(log))
    out = tmp_path / "out"
    data = {"augment": {"dataset": "gsm8k", "limit": 8, "output_dir": str(out), "methods": ["ansaug"],
                        "samples": {"ansaug": 1}},
            "teacher": {"backend": "openai", "base_url": server.base_url, "model": "scripted", "max_concurrency": 4,
                        "shutdown_grace_s": 20}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    env = session_ray_env
    cmd = [sys.executable, "-m", "metamath", "augment", "--config", str(tmp_path / "c.yaml")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 180
    while _ledger_sent(out) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert _ledger_sent(out) >= 4 and not _server_requests(log), "no request in flight to interrupt"
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole foreground group
    _, err = proc.communicate(timeout=120)
    answered = {k for e in _server_requests(log) for k in e["keys"].split(",")}
    stored = set(load_responses(str(out / "responses"))[0])
    assert proc.returncode == 130, err[-3000:]
    assert 4 <= len(answered) < 8 and answered <= stored  # every reply that was paid for is on file
    assert f"{len(stored)} response(s) stored by this run" in err and "re-run the same command to resume" in err
    assert err.rstrip().splitlines()[-1].startswith("interrupted (SIGINT)")
    # the re-run, in this process on the same Ray, against a second server without the 6 s wait
    # (a request's key holds no URL: the store is looked up alike)
    rerun_log = tmp_path / "rerun.jsonl"
    fast = scripted(answers=_oracle(8), log_path=str(rerun_log))
    run_augment(validate_config({**data, "teacher": {**data["teacher"], "base_url": fast.base_url}}, "c.yaml"))
    again = [k for e in _server_requests(rerun_log) for k in e["keys"].split(",")]
    assert not set(again) & stored and len(again) == 8 - len(stored)  # resumed: only what was missing
