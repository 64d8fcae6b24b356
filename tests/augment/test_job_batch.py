"""The augment job in batch mode (teacher.mode: batch) against the SCRIPTED server's Batch API:
the same dataset as online mode, partial failures retried and accounted, `--submit-only` then a
collecting run killed -9 between submission and collection and run again, and the key nowhere
on disk. (The same kill at the batch layer alone: tests/teacher/test_batch_mode.py.)"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from metamath.augment.job import run_augment
from metamath.config import load_config
from metamath.data import load_benchmark

pytestmark = pytest.mark.slow

LIMIT = 3
SAMPLES = "{ansaug: 2, rephrase: 1, rephrase_solve: 1, sv: 1, fobar: 1, masks_per_question: 1}"
KEY = "sk-test-batch-secret-0123456789"


def _answers():
    return {p.question: p.gold for p in load_benchmark("gsm8k", "train", limit=LIMIT).problems}


def _overrides(out, url, **extra):
    base = {"augment.dataset": "gsm8k", "augment.limit": LIMIT, "augment.output_dir": str(out),
            "augment.samples": SAMPLES, "teacher.backend": "openai", "teacher.base_url": url,
            "teacher.model": "scripted", "teacher.api_key_env": "METAMATH_TEST_BATCH_KEY", "teacher.batch_poll_s": 0.05,
            "teacher.price_per_million": "{prompt: 2.0, completion: 8.0}", **extra}
    return [f"{k}={v}" for k, v in base.items()]


def _events(log, kind):
    return [e for e in map(json.loads, Path(log).read_text().splitlines()) if e.get("event") == kind]


@pytest.fixture(scope="module")
def online_dataset(ray_local, tmp_path_factory):
    """The online run every batch run must reproduce (same deterministic server)."""
    from metamath.testing.scripted_server import Script, ServerProcess

    out = tmp_path_factory.mktemp("online")
    with ServerProcess(Script(answers=_answers())) as server:
        stats = run_augment(load_config(None, _overrides(out, server.base_url)))
    assert stats["requests"]["by_mode"] == {"online": stats["requests"]["sent"], "batch": 0}
    return (out / "metamathqa.jsonl").read_text()


def test_batch_mode_retries_partial_failures_and_gives_the_online_dataset(ray_local, scripted, online_dataset,
                                                                          tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("METAMATH_TEST_BATCH_KEY", KEY)
    log = tmp_path / "server.jsonl"
    server = scripted(answers=_answers(), log_path=str(log),
                      batch_faults=[{"every": 4, "fault": "error_500"}, {"every": 5, "offset": 1, "fault": "malformed"}],
                      batch_status=[{"index": 0, "status": "expired"}])
    out = tmp_path / "batch"
    stats = run_augment(load_config(None, _overrides(out, server.base_url, **{"teacher.mode": "batch",
                                                                               "teacher.batch_max_requests": 5})))
    assert (out / "metamathqa.jsonl").read_text() == online_dataset
    req = stats["requests"]
    assert req["by_mode"] == {"online": 0, "batch": req["sent"]} and req["failed_total"] == 0
    assert req["sent"] == req["succeeded"] + req["retried_total"] and req["sent"] == len(_events(log, "batch_line"))
    assert {"http_500", "malformed", "batch_expired"} <= set(req["retried"]), req["retried"]
    inputs = sorted((out / "batches" / "round1").glob("g0-*[0-9].jsonl"))
    assert len(inputs) > 1 and all(len(p.read_text().splitlines()) <= 5 for p in inputs)  # split at the limit
    # billed at half the online price: batch tokens x price x 0.5
    cost = stats["cost"]
    full = (req["prompt_tokens"] * 2.0 + req["completion_tokens"] * 8.0) / 1e6
    assert cost["online"] == 0 and cost["batch"] == pytest.approx(full * 0.5, abs=1e-6) == cost["this_run"]
    # the key: in no input or result file, store line, stats, log or terminal output
    captured = capfd.readouterr()
    for path in [p for p in out.rglob("*") if p.is_file()] + [log]:
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in captured.out + captured.err


def _cli(*args, env=None):
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "metamath", *args], env=env, capture_output=True, text=True,
                          timeout=400)


def test_submit_only_then_a_run_killed_9_while_waiting_then_a_rerun_pays_nothing_twice(scripted, online_dataset, tmp_path):
    log = tmp_path / "server.jsonl"
    server = scripted(answers=_answers(), log_path=str(log))
    out = tmp_path / "out"
    overrides = dict(o.split("=", 1) for o in _overrides(out, server.base_url, **{"teacher.mode": "batch"}))
    config = tmp_path / "batch.yaml"
    config.write_text(yaml.safe_dump({"augment": {"dataset": "gsm8k", "limit": LIMIT, "output_dir": str(out),
                                                  "samples": yaml.safe_load(SAMPLES)},
                                      "teacher": {k.split(".", 1)[1]: yaml.safe_load(v) for k, v in overrides.items()
                                                  if k.startswith("teacher.")}}))
    submitted = _cli("augment", "--config", str(config), "--submit-only")
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    assert "submitted:" in submitted.stdout and f"metamath batches {out}" in submitted.stdout
    assert _events(log, "batch_created") and not _events(log, "batch_line") and not (out / "metamathqa.jsonl").exists()
    listed = _cli("batches", str(out))
    assert listed.returncode == 0 and "batch-000000" in listed.stdout, listed.stdout + listed.stderr[-2000:]
    assert "finalizing" in listed.stdout  # polled live: the scripted batch moves one state per retrieve
    # collecting run: round 1 comes back, round 2 is submitted, and the command is killed -9
    # while it waits for round 2 (polls 60 s apart)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    killed = subprocess.Popen([sys.executable, "-m", "metamath", "augment", "--config", str(config),
                               "teacher.batch_poll_s=60"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    round2 = out / "batches" / "round2" / "state.jsonl"
    deadline = time.time() + 300
    while not (round2.exists() and '"batch_id": "batch-' in round2.read_text()) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert '"batch_id": "batch-' in round2.read_text() and not (out / "metamathqa.jsonl").exists()
    collected = _cli("augment", "--config", str(config))
    assert collected.returncode == 0, collected.stderr[-2000:]
    assert (out / "metamathqa.jsonl").read_text() == online_dataset
    created = _events(log, "batch_created")
    keys = [k for e in created for k in e["keys"]]
    assert len(keys) == len(set(keys)) and sorted(keys) == sorted(e["key"] for e in _events(log, "batch_line"))
    # the last run bought what it collected: round 2, submitted by the killed run (round 1 was
    # collected, and so bought, by the killed run itself)
    round2_ids = {json.loads(x).get("batch_id") for x in round2.read_text().splitlines()} - {None}
    round2_keys = [k for e in created if e["id"] in round2_ids for k in e["keys"]]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["requests"]["by_mode"]["batch"] == len(round2_keys) == stats["requests"]["sent"] > 0
