"""`metamath pipeline` with every path on s3:// (a real S3 API server on loopback, moto): data,
models, the response store, checkpoints, final/, reports. Augment is killed with kill -9 mid-run;
the re-run resumes from the store on S3, buys nothing stored again, and finishes the pipeline,
with nothing written to a local output folder. The teacher is a SCRIPTED server."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from metamath import storage
from metamath.data import load_benchmark

pytestmark = pytest.mark.slow


def _config(bucket: str, url: str) -> dict:
    run = f"{bucket}/run"
    return {
        "data": {"root": f"{bucket}/data"},
        "augment": {"dataset": "gsm8k", "limit": 6, "output_dir": f"{run}/augment", "include_original": True,
                    "samples": {"ansaug": 2, "rephrase": 1, "rephrase_solve": 1, "sv": 1, "fobar": 1, "masks_per_question": 1}},
        "teacher": {"backend": "openai", "base_url": url, "model": "scripted", "max_concurrency": 2},
        "train": {"model": f"{bucket}/models/tiny", "output_dir": f"{run}/train", "max_steps": 2, "micro_batch_size": 2,
                  "global_batch_size": 2, "precision": "fp32", "save_every_steps": 2, "max_length": 256},
        "evaluate": {"model": f"{bucket}/models/tiny", "backend": "hf", "benchmarks": ["gsm8k"], "limit": 2,
                     "max_tokens": {"gsm8k": 16}, "batch_size": 3, "output_dir": f"{run}/evaluate"},
        "pipeline": {"output_dir": run},
    }


def _teacher_workers(besides: frozenset = frozenset()) -> list:
    """Teacher actor processes on this machine, less `besides` (alive before the command started:
    an earlier in-process run's actor pools may linger in the session's Ray)."""
    import psutil

    return [p for p in psutil.process_iter(["cmdline"])
            if "OpenAIWorker" in " ".join(p.info["cmdline"] or []) and p.pid not in besides]


def _stored_keys(store: str) -> set[str]:
    keys = set()
    for path in storage.list_files(store, ".jsonl", recursive=False):
        for line in storage.text_lines(path):
            row = json.loads(line)
            if row.get("status") == "ok" and "kind" not in row:
                keys.add(row["key"])
    return keys


@pytest.mark.timeout(900)
def test_the_whole_pipeline_on_s3_resumes_after_kill_9(session_ray_env, s3_bucket, scripted, tiny_llama, data_root,
                                                       tmp_path):
    for name in ("gsm8k/train.jsonl", "gsm8k/test.jsonl", "math/test.jsonl"):  # decontamination reads both test sets
        storage.upload(str(data_root / name), f"{s3_bucket}/data/{name}")
    storage.upload(str(tiny_llama), f"{s3_bucket}/models/tiny")
    log = tmp_path / "server.jsonl"
    answers = {p.question: p.gold for p in load_benchmark("gsm8k", "train", limit=6).problems}
    server = scripted(latency_s=0.15, answers=answers, log_path=str(log))
    work = tmp_path / "cwd"  # the commands run here: nothing may land in it
    work.mkdir()
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(_config(s3_bucket, server.base_url)))
    env = {k: v for k, v in session_ray_env.items() if k != "METAMATH_DATA_DIR"}  # data: data.root on S3
    cmd = [sys.executable, "-m", "metamath", "pipeline", "--config", str(tmp_path / "p.yaml")]
    before = frozenset(p.pid for p in _teacher_workers())
    killed = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    store, deadline = f"{s3_bucket}/run/augment/responses", time.time() + 240
    while len(_stored_keys(store)) < 6 and time.time() < deadline:
        time.sleep(0.3)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    deadline = time.time() + 60
    while _teacher_workers(before) and time.time() < deadline:  # Ray ends a dead driver's workers
        time.sleep(0.2)
    time.sleep(1.0)  # a request in flight at the kill may still reach the server's log
    stored, kill_time = _stored_keys(store), time.time()
    assert len(stored) >= 6 and not storage.exists(f"{s3_bucket}/run/augment/metamathqa.jsonl")
    started = time.time()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    resent = [k for e in map(json.loads, log.read_text().splitlines()) if e["t"] > kill_time
              for k in e["keys"].split(",") if k in stored]
    assert resent == []  # nothing stored on S3 before the kill was bought again
    run = f"{s3_bucket}/run"
    stats = json.loads(storage.read_text(f"{run}/augment/stats.json"))
    assert stats["requests"]["served_from_cache"] >= len(stored) and stats["rows"] > 6
    assert storage.is_file(f"{run}/train/final/model.safetensors") and storage.list_dirs(f"{run}/train/ray_train")
    for label in ("base", "finetuned"):
        assert json.loads(storage.read_text(f"{run}/evaluate/{label}/report.json"))["gsm8k"]["n"] == 2
    state = json.loads(storage.read_text(f"{run}/pipeline_state.json"))["stages"]
    assert set(state) == {"augment", "train", "evaluate_base", "evaluate_finetuned"}
    assert state["evaluate_finetuned"]["artifacts"]["report"] == f"{run}/evaluate/finetuned/report.json"
    assert storage.is_file(f"{run}/comparison/comparison.md")
    assert [p.name for p in work.iterdir()] == []  # no local output folder
    print(f"\n[object storage] pipeline on s3 resumed after kill -9: {len(stored)} stored before, none bought "
          f"again; the resumed run took {time.time() - started:.0f} s")
