"""`ray job submit` against a real Ray (the session's, through its dashboard's job API), as a thin
smoke test: the pipeline entry point, the working-dir package, a resubmission that skips what is
done, and no secret in outputs, logs or job metadata. The submitted pipeline is its API stage
alone (augment two questions against a scripted server, the key in the job's environment); the
whole pipeline (augment, train, both evaluations, the comparison) runs end to end in
tests/pipeline/test_object_storage.py, resumed after a kill -9."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from metamath.data.benchmarks import load_benchmark
from tests.conftest import NODE_SECRET

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = NODE_SECRET  # in every Ray process's environment, as on a cluster's nodes


def _ray(*args, env=None, check=True, timeout=180):
    done = subprocess.run([str(BIN / "ray"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert not check or done.returncode == 0, f"ray {' '.join(args[:2])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture
def cluster(ray_local):
    """The session's own Ray, reached as a cluster is: through its dashboard's job API (no second
    cluster on a 2-core machine). The key the job uses is in the submitting shell only."""
    from ray._private.utils import write_ray_address

    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("RAY_ADDRESS", None)
    # a submitted job's driver finds its cluster as `address="auto"` does: name the session's Ray
    write_ray_address(ray_local.get_runtime_context().gcs_address)
    url = ray_local._private.worker._global_node.address_info["webui_url"]
    return env, f"http://{url}"


def _pipeline_config(tmp_path, base_url):
    out = tmp_path / "run"
    config = {
        "augment": {"dataset": "gsm8k", "limit": 2, "methods": ["ansaug"], "samples": {"ansaug": 1},
                    "shots": 0, "include_original": True, "output_dir": str(out / "augment")},
        "teacher": {"backend": "openai", "model": "scripted", "base_url": base_url, "api_key_env": "METAMATH_TEST_KEY"},
        "pipeline": {"output_dir": str(out), "stages": ["augment"]},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, out


def _submit_and_wait(env, address, config, data_root):
    """`ray job submit` as a user runs it: it streams the job's logs and exits 0 once it succeeded
    (one CLI process; no status polling, each poll a Ray CLI start on 2 cores)."""
    runtime_env = {"excludes": [".venv", "outputs", ".git", "*.egg-info", "__pycache__"],
                   "env_vars": {"METAMATH_DATA_DIR": str(data_root), "HF_HUB_OFFLINE": "1"}}
    deadline = time.time() + 120
    while True:  # the dashboard answers before the node's job agent is up
        submitted = _ray("job", "submit", "--address", address, "--working-dir", ".", "--runtime-env-json",
                         json.dumps(runtime_env), "--", sys.executable, "ray_jobs/pipeline.py", "--config", str(config),
                         env=env, check=False, timeout=600)
        if submitted.returncode == 0 or "No available agent" not in submitted.stderr or time.time() > deadline:
            break
        time.sleep(3)
    logs = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0 and re.search(r"Job 'raysubmit_\w+' succeeded", logs), logs[-4000:]
    return logs


def test_ray_job_submit_runs_the_pipeline_and_a_resubmit_skips_it(cluster, scripted, data_root, tmp_path):
    env, address = cluster
    problems = load_benchmark("gsm8k", "train", limit=2).problems
    server = scripted(answers={p.question: p.gold for p in problems})
    config, out = _pipeline_config(tmp_path, server.base_url)
    logs = _submit_and_wait(env, address, config, data_root)
    state = json.loads((out / "pipeline_state.json").read_text())["stages"]
    assert set(state) == {"augment"} and (out / "augment" / "metamathqa.parquet").is_file()
    assert json.loads((out / "augment" / "stats.json").read_text())["requests"]["succeeded"] == 2
    again = _submit_and_wait(env, address, config, data_root)
    assert again.count("finished earlier, skipped") == 1
    leaked = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".md", ".yaml", ".txt")
              and SECRET in p.read_text(errors="ignore")]
    assert not leaked and SECRET not in logs + again
    jobs = _ray("list", "jobs", "--address", address, "--detail", env=env, check=False).stdout
    assert "raysubmit_" in jobs and SECRET not in jobs
