"""Evaluate (hf, two replicas) on a 3-node cluster with the model and outputs on a real S3 API
server: the node of one decoding actor is lost mid-run, and every item is still scored once."""

import json
import subprocess
import sys
import time

import pytest
import yaml

from metamath import storage

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_a_lost_worker_node_still_scores_every_item_once(multinode, tiny_llama, s3_bucket, tmp_path):
    items, out = 12, f"{s3_bucket}/evaluate"
    storage.upload(str(tiny_llama), f"{s3_bucket}/models/tiny")  # each node fetches it once, the fresh one too
    config = {"evaluate": {"model": f"{s3_bucket}/models/tiny", "backend": "hf", "benchmarks": ["gsm8k"], "limit": items,
                           "max_tokens": {"gsm8k": 32}, "batch_size": 2, "replicas": 2, "output_dir": out}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    log = tmp_path / "cli.log"
    proc = subprocess.Popen([sys.executable, "-m", "metamath", "evaluate", "--config", str(tmp_path / "c.yaml")],
                            env=multinode.env(), stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while len(storage.list_files(f"{out}/responses", ".jsonl", recursive=False)) < 2 and proc.poll() is None \
            and time.time() < deadline:  # both actors decoding, some answers stored
        time.sleep(0.3)
    workers = multinode.alive_actors("HFWorker")
    assert len(workers) == 2, log.read_text()[-3000:]
    multinode.lose(workers[0][1])
    assert proc.wait(timeout=400) == 0, log.read_text()[-3000:]
    report = json.loads(storage.read_text(f"{out}/report.json"))["gsm8k"]
    ids = [json.loads(line)["id"] for line in storage.text_lines(f"{out}/gsm8k/predictions.jsonl")]
    assert report["n"] == items and len(ids) == items and len(set(ids)) == items  # every item, once
    decode = json.loads(storage.read_text(f"{out}/run.json"))["decode"]  # the run's one round
    assert decode["worker_restarts"] >= 1 and decode["failed"] == 0 and report["decode"]["failed"] == 0
    print(f"\n[node loss, evaluate] {items} items scored once; decoding actor restarts {decode['worker_restarts']}")
