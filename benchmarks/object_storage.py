"""The same small pipeline with every path on local folders and with every path on s3://.

    python benchmarks/object_storage.py [--repeat 1]

`metamath pipeline` in a subprocess (its own local Ray each time): augment 10 GSM8K questions
through the four methods against the SCRIPTED OpenAI-compatible server on 127.0.0.1 (answers
right, 0.05 s latency), train a tiny random Llama for 4 steps, evaluate base and fine-tuned on
4 GSM8K items with the hf backend. The S3 run puts the data root, both models, every output
folder, the response store and the checkpoints on a real S3 API server on loopback (moto's
ThreadedMotoServer); the local run uses a temporary folder. Runs alternate (local, s3, ...).
Printed: each run's wall time, and s3 / local (median of the rounds' ratios).
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if importlib.util.find_spec("moto") is None or importlib.util.find_spec("boto3") is None:
    raise SystemExit("benchmarks/object_storage.py needs moto[server] (the dev extra: make install)")

import yaml  # noqa: E402

from metamath import storage  # noqa: E402
from metamath.data import load_benchmark, resolve_data_root  # noqa: E402
from metamath.testing.scripted_server import Script, ServerProcess  # noqa: E402
from metamath.testing.tiny import make_tiny_llama  # noqa: E402


def pipeline_config(root: str, data: str, model: str, url: str) -> dict:
    return {
        "data": {"root": data},
        "augment": {"dataset": "gsm8k", "limit": 10, "output_dir": f"{root}/augment", "include_original": True,
                    "samples": {"ansaug": 2, "rephrase": 1, "rephrase_solve": 1, "sv": 1, "fobar": 1,
                                "masks_per_question": 1}},
        "teacher": {"backend": "openai", "base_url": url, "model": "scripted", "max_concurrency": 8},
        "train": {"model": model, "output_dir": f"{root}/train", "max_steps": 4, "micro_batch_size": 2,
                  "global_batch_size": 2, "precision": "fp32", "save_every_steps": 2, "max_length": 256},
        "evaluate": {"model": model, "backend": "hf", "benchmarks": ["gsm8k"], "limit": 4, "max_tokens": {"gsm8k": 16},
                     "batch_size": 4, "output_dir": f"{root}/evaluate"},
        "pipeline": {"output_dir": root},
    }


def run_pipeline(config: dict, work: Path) -> float:
    path = work / f"p-{time.time_ns()}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "METAMATH_DATA_DIR")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "metamath", "pipeline", "--config", str(path)], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"pipeline failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def start_s3() -> tuple[object, str]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    return server, endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    data_root = resolve_data_root()
    if data_root is None:
        raise SystemExit("no local benchmark data: set METAMATH_DATA_DIR")
    server, endpoint = start_s3()
    work = Path(tempfile.mkdtemp(prefix="metamath-objstore-"))
    model = make_tiny_llama(work / "tiny")
    storage.upload(str(model), "s3://bench/models/tiny")
    for name in ("gsm8k/train.jsonl", "gsm8k/test.jsonl", "math/test.jsonl"):
        storage.upload(storage.join(data_root, name), f"s3://bench/data/{name}")
    answers = {p.question: p.gold for p in load_benchmark("gsm8k", "train", limit=10).problems}
    rounds = []
    with ServerProcess(Script(answers=answers, latency_s=0.05)) as teacher:
        for i in range(args.repeat):
            local = run_pipeline(pipeline_config(str(work / f"local-{i}"), data_root, str(model), teacher.base_url), work)
            s3 = run_pipeline(pipeline_config(f"s3://bench/run-{i}", "s3://bench/data", "s3://bench/models/tiny",
                                              teacher.base_url), work)
            rounds.append({"local_s": round(local, 1), "s3_s": round(s3, 1), "s3_over_local": round(s3 / local, 3)})
            print(f"round {i + 1}: local {local:.1f} s, s3 {s3:.1f} s, s3/local {s3 / local:.3f}", flush=True)
    server.stop()
    ratio = statistics.median(r["s3_over_local"] for r in rounds)
    print(f"s3 / local wall time (median of {len(rounds)} round(s)): {ratio:.3f}")
    print(json.dumps({"rounds": rounds, "s3_over_local": ratio, "endpoint": "moto on 127.0.0.1"}))


if __name__ == "__main__":
    main()
