"""The hf teacher/evaluation worker on a CUDA GPU (skipped without one)."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")]


def test_hf_worker_generates_greedily_on_cuda_with_stop_strings(tiny_llama, tmp_path):
    import json

    import pandas as pd

    from metamath.config import TeacherConfig
    from metamath.prompts.templates import PAPER_STOP
    from metamath.generation.requests import make_group
    from metamath.generation.backends.workers import HFWorker

    cfg = TeacherConfig(backend="hf", model=str(tiny_llama), temperature=0.0, max_tokens=16, stop=PAPER_STOP,
                        use_gpu=True, batch_size=4)
    worker = HFWorker(cfg.model_dump(), str(tmp_path))
    assert next(worker.model.parameters()).device.type == "cuda"
    groups = [make_group(cfg, f"### Instruction:\nWhat is {i} + 1?\n\n### Response:", 1, {"i": i}).to_row()
              for i in range(3)]
    out = worker(pd.DataFrame(groups))
    assert len(out) == 3 and set(out["status"]) == {"ok"} and all(out["completion_tokens"] > 0)
    assert all(stop not in text for text in out["text"] for stop in PAPER_STOP)
    assert json.loads(out["meta"][0]) == {"i": 0}
