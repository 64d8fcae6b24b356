"""A real local cluster (`ray start --head`), a tiny pipeline submitted with `ray job submit`:
augment against a scripted server, train a tiny Llama, evaluate base and fine-tuned."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from metamath.data.benchmarks import load_benchmark
from metamath.testing.tiny import make_tiny_llama

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DASHBOARD = 8297
SECRET = "sk-test-" + "7" * 24


def _ray(*args, env=None, check=True, timeout=180):
    done = subprocess.run([str(BIN / "ray"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert not check or done.returncode == 0, f"ray {' '.join(args[:2])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture
def cluster(tmp_path):
    # Token authentication stays on: the CLI reads the cluster's token (~/.ray/auth_token).
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "METAMATH_TEST_KEY": SECRET, "RAY_AUTH_MODE": "token"}
    env.pop("RAY_ADDRESS", None)
    _ray("get-auth-token", "--generate", env=env)
    # Its own temp dir (short: Ray's socket paths are length-limited) keeps other tests' ray.init()
    # from finding this cluster.
    short_tmp = tempfile.mkdtemp(prefix="rj-", dir="/tmp")
    # `--block` and our own process group: teardown stops this cluster only (`ray stop` would
    # kill every Ray cluster on the machine, the test session's own included).
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--port=6391", f"--dashboard-port={DASHBOARD}",
         "--dashboard-host=127.0.0.1", "--num-cpus=2", "--ray-client-server-port=10011",
         "--min-worker-port=12000", "--max-worker-port=12999", f"--temp-dir={short_tmp}",
         # ports of its own: the test session's local Ray already holds the defaults
         "--dashboard-agent-listen-port=52377", "--dashboard-agent-grpc-port=52378", "--metrics-export-port=52379",
         "--runtime-env-agent-port=52380", "--node-manager-port=52381", "--object-manager-port=52382"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"http://127.0.0.1:{DASHBOARD}"
    deadline = time.time() + 120
    while _ray("job", "list", "--address", address, env=env, check=False).returncode and time.time() < deadline:
        time.sleep(2)
    yield env, address
    os.killpg(head.pid, signal.SIGTERM)
    try:  # a graceful stop took ~34 s of CI time; nothing of the cluster is needed any more
        head.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)  # whatever of the cluster's process group is left
    except ProcessLookupError:
        pass
    head.wait(timeout=30)
    shutil.rmtree(short_tmp, ignore_errors=True)


def _pipeline_config(tmp_path, base_url):
    model = make_tiny_llama(tmp_path / "tiny")
    out = tmp_path / "run"
    config = {
        "augment": {"dataset": "gsm8k", "limit": 4, "methods": ["ansaug"], "samples": {"ansaug": 2},
                    "shots": 0, "include_original": True, "output_dir": str(out / "augment")},
        "teacher": {"backend": "openai", "model": "scripted", "base_url": base_url, "api_key_env": "METAMATH_TEST_KEY"},
        "train": {"model": str(model), "output_dir": str(out / "train"), "max_length": 256, "max_steps": 2,
                  "micro_batch_size": 2, "global_batch_size": 4, "precision": "fp32", "lr": 1e-3},
        "evaluate": {"model": str(model), "backend": "hf", "benchmarks": ["gsm8k"], "limit": 2,
                     "max_tokens": {"gsm8k": 8}, "output_dir": str(out / "evaluate")},
        "pipeline": {"output_dir": str(out)},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, out


def _submit_and_wait(env, address, config, data_root):
    runtime_env = {"excludes": [".venv", "outputs", ".git", "*.egg-info", "__pycache__"],
                   "env_vars": {"METAMATH_DATA_DIR": str(data_root), "HF_HUB_OFFLINE": "1"}}
    deadline = time.time() + 120
    while True:  # the dashboard answers before the node's job agent is up
        submitted = _ray("job", "submit", "--address", address, "--no-wait", "--working-dir", ".",
                         "--runtime-env-json", json.dumps(runtime_env), "--",
                         "python", "ray_jobs/pipeline.py", "--config", str(config), env=env, check=False)
        if submitted.returncode == 0 or "No available agent" not in submitted.stderr or time.time() > deadline:
            break
        time.sleep(3)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    job_id = re.search(r"raysubmit_\w+", submitted.stdout + submitted.stderr).group(0)
    deadline = time.time() + 600
    while time.time() < deadline:
        done = _ray("job", "status", "--address", address, job_id, env=env)
        status = (done.stdout + done.stderr).lower()  # "Job '...' succeeded" goes to stderr
        if any(f"' {word}" in status for word in ("succeeded", "failed", "stopped")):
            break
        time.sleep(3)
    logs = _ray("job", "logs", "--address", address, job_id, env=env).stdout
    assert "' succeeded" in status, logs[-4000:]
    return logs


def test_ray_job_submit_runs_the_pipeline_and_a_resubmit_skips_it(cluster, scripted, data_root, tmp_path):
    env, address = cluster
    problems = load_benchmark("gsm8k", "train", limit=4).problems
    server = scripted(answers={p.question: p.gold for p in problems})
    config, out = _pipeline_config(tmp_path, server.base_url)
    logs = _submit_and_wait(env, address, config, data_root)
    assert "base vs fine-tuned" in logs
    state = json.loads((out / "pipeline_state.json").read_text())["stages"]
    assert set(state) == {"augment", "train", "evaluate_base", "evaluate_finetuned"}
    assert (out / "augment" / "metamathqa.parquet").is_file() and (out / "train" / "final" / "config.json").is_file()
    assert (out / "evaluate" / "finetuned" / "report.json").is_file() and (out / "comparison" / "comparison.md").is_file()
    again = _submit_and_wait(env, address, config, data_root)
    assert again.count("finished earlier, skipped") == 4
    leaked = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".md", ".yaml", ".txt")
              and SECRET in p.read_text(errors="ignore")]
    assert not leaked and SECRET not in logs + again
    jobs = _ray("list", "jobs", "--address", address, "--detail", env=env, check=False).stdout
    assert "raysubmit_" in jobs and SECRET not in jobs
