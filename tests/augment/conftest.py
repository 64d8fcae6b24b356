"""The augment tests' one uninterrupted reference run: the kill -9, resume and batch-mode tests
all compare their output with it (the SCRIPTED server is deterministic), so it runs once."""

from pathlib import Path

import pytest

from metamath.data import load_benchmark

LIMIT = 6
SAMPLES = {"ansaug": 2, "rephrase": 1, "rephrase_solve": 1, "sv": 1, "fobar": 1, "masks_per_question": 1}


def oracle(limit: int = LIMIT) -> dict[str, str]:
    """question -> gold: the scripted teacher answers every question right."""
    return {p.question: p.gold for p in load_benchmark("gsm8k", "train", limit=limit).problems}


def augment_config(out, url: str, **teacher) -> dict:
    """The reference run's config (a YAML-able mapping) with `out` and the server's URL."""
    return {"augment": {"dataset": "gsm8k", "limit": LIMIT, "output_dir": str(out), "samples": dict(SAMPLES)},
            "teacher": {"backend": "openai", "base_url": url, "model": "scripted", "max_concurrency": 2, **teacher}}


@pytest.fixture(scope="session")
def reference_augment(ray_local, tmp_path_factory) -> Path:
    """The output folder of one uninterrupted online augment run of `augment_config`."""
    from metamath.augment.job import run_augment
    from metamath.config.loader import validate_config
    from metamath.testing.scripted_server import Script, ServerProcess

    out = tmp_path_factory.mktemp("reference-augment")
    with ServerProcess(Script(answers=oracle())) as server:
        stats = run_augment(validate_config(augment_config(out, server.base_url), "reference"))
    assert stats["requests"]["by_mode"] == {"online": stats["requests"]["sent"], "batch": 0}
    return out
