"""Augment on a 3-node cluster (Ray's own cluster_utils, the CLI attached with RAY_ADDRESS, a
SCRIPTED teacher, outputs on a real S3 API server): the worker node of a teacher actor is lost
mid-run, a fresh one joins, and the job finishes with nothing in the store bought twice.

Six half-CPU teacher actors on two 2-CPU nodes leave half a CPU free on each: a step that asks
a whole CPU (Ray Data's repartition did) can then never run, and the round used to wait in
silence; the same happened with two actors on two 1-CPU nodes."""

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from metamath import storage
from metamath.data import load_benchmark

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_a_lost_worker_node_is_survived_and_nothing_stored_is_bought_twice(multinode, scripted, s3_bucket, tmp_path):
    questions = 40
    log = tmp_path / "server.jsonl"
    answers = {p.question: p.gold for p in load_benchmark("gsm8k", "train", limit=questions).problems}
    server = scripted(latency_s=1.0, answers=answers, log_path=str(log))
    out = f"{s3_bucket}/augment"
    config = {"augment": {"dataset": "gsm8k", "limit": questions, "output_dir": out, "methods": ["ansaug"],
                          "samples": {"ansaug": 1}},
              "teacher": {"backend": "openai", "base_url": server.base_url, "model": "scripted", "max_concurrency": 12,
                          "replicas": 6, "price_per_million": {"prompt": 1.0, "completion": 2.0}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([sys.executable, "-m", "metamath", "augment", "--config", str(tmp_path / "c.yaml")],
                            env=multinode.env(), stdout=open(tmp_path / "cli.log", "w"), stderr=subprocess.STDOUT)
    deadline, workers = time.time() + 240, []
    while len(workers) < 2 and proc.poll() is None and time.time() < deadline:  # placed before any request
        workers = multinode.alive_actors("OpenAIWorker")
    while _lines(log) < 12 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert _lines(log) >= 12 and len(workers) >= 2, (tmp_path / "cli.log").read_text()[-3000:]
    stored_before = {k for k in _stored_keys(out)}
    multinode.lose(workers[0][1])  # the node of one teacher actor, its requests in flight with it
    assert proc.wait(timeout=400) == 0, (tmp_path / "cli.log").read_text()[-3000:]
    stats = json.loads(storage.read_text(f"{out}/stats.json"))
    req, seen = stats["requests"], [json.loads(line) for line in log.read_text().splitlines()]
    bought = Counter(k for entry in seen for k in entry["keys"].split(","))
    twice = {k for k, n in bought.items() if n > 1}
    again = sum(n - 1 for n in bought.values() if n > 1)
    assert stats["types"]["GSM_AnsAug"]["generated"] == questions  # every question answered after the loss
    assert req["lost_with_worker"] >= 1 and req["worker_restarts"] >= 1  # the node went with requests in flight
    assert not twice & stored_before  # what was in the store before the loss was never bought again
    assert req["sent"] == req["succeeded"] + req["retried_total"] + req["failed_total"] + req["lost_with_worker"]
    # every request the server received is counted as sent, lost ones included; a loss can also
    # land between the ledger line and the wire: such a request is counted, never received, and
    # is one of those lost with the worker
    unreceived = req["sent"] - len(seen)
    assert 0 <= unreceived <= req["lost_with_worker"]
    assert len(seen) == questions + again  # bought again: only answers that died in flight
    assert again <= req["lost_with_worker"] <= again + unreceived
    assert 0 < stats["cost"]["lost_with_worker_estimated"] < stats["cost"]["this_run"]
    print(f"\n[node loss, augment] requests sent {req['sent']}, answered twice {len(twice)}, lost in flight "
          f"{req['lost_with_worker']}, worker restarts {req['worker_restarts']}")


def _lines(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def _stored_keys(out: str) -> set[str]:
    keys = set()
    for path in storage.list_files(f"{out}/responses", ".jsonl", recursive=False):
        for line in storage.text_lines(path):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("status") == "ok":
                keys.add(row["key"])
    return keys
