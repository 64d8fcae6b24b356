"""The deployment files parse and name what the code expects; every shipped config is valid."""

from pathlib import Path

import pytest
import yaml

from metamath.config import load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path):
    cfg = load_config(str(path), [])
    assert any(getattr(cfg, s) is not None for s in ("augment", "train", "evaluate", "pipeline"))


@pytest.mark.parametrize("name", ["cluster.yaml", "deploy/cluster-onprem.yaml"])
def test_ray_up_configs(name):
    cluster = yaml.safe_load((ROOT / name).read_text())
    assert cluster["provider"]["type"] in ("aws", "local")
    assert any("pip install -e '.[gpu]'" in c for c in cluster["setup_commands"])
    assert cluster["file_mounts"] and ".venv" in cluster["rsync_exclude"] and "outputs" in cluster["rsync_exclude"]
    head = " ".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "--head" in head
    if cluster["provider"]["type"] == "aws":
        types = cluster["available_node_types"]
        assert cluster["head_node_type"] in types and {"gpu_train", "gpu_infer"} <= set(types)
        assert all("max_workers" in t for n, t in types.items() if n != cluster["head_node_type"])


def test_kuberay_rayjob_runs_the_pipeline_entry_point():
    job = yaml.safe_load((ROOT / "deploy/rayjob.yaml").read_text())
    assert job["kind"] == "RayJob" and job["apiVersion"].startswith("ray.io/")
    entry = job["spec"]["entrypoint"].split()
    assert entry[:2] == ["python", "ray_jobs/pipeline.py"] and (ROOT / entry[1]).is_file()
    assert (ROOT / entry[entry.index("--config") + 1]).is_file()
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    env = head["template"]["spec"]["containers"][0]["env"]
    assert all("value" not in e and "secretKeyRef" in e["valueFrom"] for e in env if "KEY" in e["name"])


def test_paper_pipeline_config_matches_the_paper():
    cfg = load_config(str(ROOT / "configs/metamath-7b.yaml"), [])
    assert cfg.teacher.model == "gpt-3.5-turbo" and cfg.teacher.backend == "openai"
    assert cfg.augment.target_counts["GSM_AnsAug"] == 80000
    t = cfg.train
    assert (t.global_batch_size, t.lr, t.epochs, t.warmup_ratio, t.weight_decay, t.precision) == (128, 2e-5, 3, 0.03, 0.0, "bf16")
    assert cfg.evaluate.backend == "vllm" and cfg.evaluate.max_tokens == {"gsm8k": 512, "math": 2048}
    assert load_config(str(ROOT / "configs/metamath-7b-open-teacher.yaml"), []).teacher.backend == "vllm"
