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
def test_ray_up_configs_pass_rays_own_validation(name):
    from ray.autoscaler._private.util import prepare_config, validate_config

    cluster = yaml.safe_load((ROOT / name).read_text())
    validate_config(prepare_config(yaml.safe_load((ROOT / name).read_text())))  # Ray's schema, its defaults filled
    installs = " ".join(cluster["setup_commands"]) + (ROOT / "deploy/Dockerfile").read_text()
    assert "pip install" in installs and ".[gpu]" in installs
    assert cluster["file_mounts"] and ".venv" in cluster["rsync_exclude"] and "outputs" in cluster["rsync_exclude"]
    head = " ".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "--head" in head


def _node_types() -> list[dict[str, float]]:
    """cluster.yaml's worker types and deploy/rayjob.yaml's worker groups, as Ray resources."""
    cluster = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    types = [{k: float(v) for k, v in t["resources"].items()} for n, t in cluster["available_node_types"].items()
             if n != cluster["head_node_type"]]
    job = yaml.safe_load((ROOT / "deploy/rayjob.yaml").read_text())
    for group in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        types.append({"CPU": float(limits["cpu"]), "GPU": float(limits.get("nvidia.com/gpu", 0))})
    return types


@pytest.mark.parametrize("config", ["metamath-7b.yaml", "metamath-7b-open-teacher.yaml"])
def test_every_stage_of_the_cluster_configs_fits_a_node_type(config):
    """No job waits for a node that can never come: each stage's actors fit a node type of
    cluster.yaml and of the RayJob, and every path is on the bucket the files name."""
    from metamath.cluster import Capacity, check_fit, check_shared_outputs, stage_asks
    from metamath.preflight import output_dirs

    cfg = load_config(str(ROOT / "configs" / config), [])
    head = Capacity(nodes=[{"CPU": 0.0}], node_types=_node_types())
    for stage in cfg.pipeline.stages:
        for ask in stage_asks(stage, cfg):
            check_fit(ask, head)
    outputs = output_dirs("pipeline", cfg)
    check_shared_outputs(outputs, cfg, head)
    assert all(p.startswith("s3://YOUR-BUCKET/metamath") for p in [*outputs.values(), cfg.data.root])
    for node_file in ("cluster.yaml", "deploy/rayjob.yaml"):
        text = (ROOT / node_file).read_text()
        assert "s3://YOUR-BUCKET/metamath" in text and "OPENAI_API_KEY" in text and "HF_TOKEN" in text


def test_kuberay_rayjob_runs_the_pipeline_entry_point():
    job = yaml.safe_load((ROOT / "deploy/rayjob.yaml").read_text())
    assert job["kind"] == "RayJob" and job["apiVersion"].startswith("ray.io/")
    entry = job["spec"]["entrypoint"].split()
    assert entry[:2] == ["python", "ray_jobs/pipeline.py"] and (ROOT / entry[1]).is_file()
    assert (ROOT / entry[entry.index("--config") + 1]).is_file()
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    pods = [head["template"]["spec"], *(g["template"]["spec"] for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"])]
    for pod in pods:  # every pod: the image built by deploy/Dockerfile, the bucket's service account, both secrets
        container = pod["containers"][0]
        assert container["image"] == "YOUR-REGISTRY/metamath:latest" and pod["serviceAccountName"] == "metamath"
        assert {e["name"] for e in container["env"]} == {"OPENAI_API_KEY", "HF_TOKEN"}
        assert all("valueFrom" in e for e in container["env"])  # from the Secret, never a value here
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


@pytest.mark.parametrize("entry, flag", [("augment", "--submit-only"), ("ablate", "--cell"), ("evaluate", "--config")])
def test_every_ray_job_entry_point_takes_its_commands_arguments(entry, flag):
    import subprocess
    import sys

    shown = subprocess.run([sys.executable, str(ROOT / "ray_jobs" / f"{entry}.py"), "--help"], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0 and flag in shown.stdout, shown.stdout + shown.stderr
