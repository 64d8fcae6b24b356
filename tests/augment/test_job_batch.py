"""The augment job in batch mode (teacher.mode: batch) against the SCRIPTED server's Batch API:
the same dataset as the online reference run, partial failures retried and accounted,
`--submit-only` then a collecting run, and the key nowhere on disk. (A kill -9 between submission
and collection: tests/generation/batch/test_driver.py, at the batch layer.)"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from metamath.augment.job import run_augment
from metamath.config.loader import validate_config
from tests.augment.conftest import augment_config, oracle

pytestmark = pytest.mark.slow

KEY = "sk-test-batch-secret-0123456789"
BATCH = {"mode": "batch", "api_key_env": "METAMATH_TEST_BATCH_KEY", "batch_poll_s": 0.05,
         "price_per_million": {"prompt": 2.0, "completion": 8.0}}


def _config(out, url, **teacher):
    return validate_config(augment_config(out, url, **{**BATCH, **teacher}), "batch test")


def _events(log, kind):
    return [e for e in map(json.loads, Path(log).read_text().splitlines()) if e.get("event") == kind]


def test_batch_mode_retries_partial_failures_and_gives_the_online_dataset(ray_local, scripted, reference_augment,
                                                                          tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("METAMATH_TEST_BATCH_KEY", KEY)
    log = tmp_path / "server.jsonl"
    server = scripted(answers=oracle(), log_path=str(log),
                      batch_faults=[{"every": 4, "fault": "error_500"}, {"every": 5, "offset": 1, "fault": "malformed"}],
                      batch_status=[{"index": 0, "status": "expired"}])
    out = tmp_path / "batch"
    stats = run_augment(_config(out, server.base_url, batch_max_requests=5))
    assert (out / "metamathqa.jsonl").read_text() == (reference_augment / "metamathqa.jsonl").read_text()
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


def test_submit_only_then_the_same_command_collects_and_pays_nothing_twice(session_ray_env, scripted,
                                                                           reference_augment, tmp_path):
    """`augment --submit-only` (the command, attached to a running Ray), `metamath batches`, then
    the same job without the flag (here in this process, on the same Ray) collects what was
    submitted and finishes. (A run killed -9 between submission and collection:
    tests/generation/batch/test_driver.py, at the batch layer.)"""
    from typer.testing import CliRunner

    from metamath.cli import app

    log = tmp_path / "server.jsonl"
    server = scripted(answers=oracle(), log_path=str(log))
    out = tmp_path / "out"
    config = tmp_path / "batch.yaml"
    config.write_text(yaml.safe_dump(augment_config(out, server.base_url, **BATCH)))
    submitted = _cli(session_ray_env, "augment", "--config", str(config), "--submit-only")
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    assert "submitted:" in submitted.stdout and f"metamath batches {out}" in submitted.stdout
    assert _events(log, "batch_created") and not _events(log, "batch_line") and not (out / "metamathqa.jsonl").exists()
    listed = CliRunner().invoke(app, ["batches", str(out)], terminal_width=200)
    assert listed.exit_code == 0 and "batch-000000" in listed.output, listed.output
    assert "finalizing" in listed.output  # polled live: the scripted batch moves one state per retrieve
    run_augment(validate_config(yaml.safe_load(config.read_text()), str(config)))  # collects, in this process
    assert (out / "metamathqa.jsonl").read_text() == (reference_augment / "metamathqa.jsonl").read_text()
    created = _events(log, "batch_created")
    keys = [k for e in created for k in e["keys"]]
    assert len(keys) == len(set(keys)) and sorted(keys) == sorted(e["key"] for e in _events(log, "batch_line"))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["requests"]["by_mode"]["batch"] == stats["requests"]["sent"] == len(keys) > 0


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "metamath", *args], env=env, capture_output=True, text=True,
                          timeout=400)
