"""`metamath augment`: a list of steps (metamath/augment/steps.py) from the training file to
metamathqa.{jsonl,parquet}; the questions stream through Ray Data and the driver keeps counters only.

    round 1 -> round 2 -> [dars] -> spend -> verify -> difficulty -> assemble

Every response and verdict is journaled in `responses/` as it arrives; the journal is compacted
into Parquet between rounds and at the end. Re-running the command resumes: finished steps are
skipped (work/steps.json records them), only samples without a successful response are sent,
and only new responses are judged. stats.json is assembled from the steps' stats.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

from metamath import storage
from metamath.augment.accounting import fail_if_nothing_succeeded, print_summary, redact_url, request_totals, type_table
from metamath.augment.card import write_card
from metamath.augment.spend import plan_before_paying
from metamath.augment.steps import AugmentRun, augment_steps, paid_rounds
from metamath.augment.tasks import AugmentContext
from metamath.config import MetaMathConfig
from metamath.data.benchmarks import load_benchmark
from metamath.errors import DataError
from metamath.prompts import select_solve_shots
from metamath.ray_data import small_dataset
from metamath.records import record_type
from metamath.steps import StepResult, fingerprint, run_steps, step_summary


def run_augment(cfg: MetaMathConfig, submit_only: bool = False) -> dict[str, Any]:
    """The augment stage; `submit_only` (teacher.mode batch): stop once the batches are created."""
    from metamath.ray_utils import ensure_ray

    aug = cfg.require("augment")
    started = time.time()
    train = load_benchmark(aug.dataset, "train", path=aug.data_path, root=cfg.data.root, on_malformed=cfg.data.on_malformed)
    problems = train.problems[: aug.limit] if aug.limit else train.problems
    if not problems:
        raise DataError(f"{train.source}: no usable training questions")
    estimate = plan_before_paying(cfg)
    before_ray = time.time()
    ensure_ray()
    ray_up = time.time()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    ctx = AugmentContext(aug, cfg.teacher, select_solve_shots(train.problems, aug.seed), submit_only)
    # Questions are few (thousands) beside the samples (millions): they may come from the driver.
    questions = small_dataset([p.to_dict() for p in problems])
    run = AugmentRun(cfg, ctx, problems, questions, run_id, started, estimate)
    work = storage.join(aug.output_dir, "work")
    results = run_steps(augment_steps(run), work, stage_fingerprint(cfg, problems, submit_only))
    steps = step_summary(storage.join(work, "steps.json"))
    driver = {"ray_up_at": ray_up, "ray_start_s": round(ray_up - before_ray, 2), "peak_rss_mb": peak_rss_mb(),
              "stages_s": {name: step["seconds"] for name, step in steps.items()}, "steps": steps}
    stats = write_stats(cfg, results, len(problems), train, started, driver, estimate)
    fail_if_nothing_succeeded(stats["requests"], "teacher")
    return stats


def stage_fingerprint(cfg: MetaMathConfig, problems: list, submit_only: bool) -> str:
    """What decides the steps' outputs: the augment and teacher sections (the secret is never in
    them: only the name of its variable), the data options and the questions themselves."""
    questions = [(p.id, p.question, p.gold) for p in problems]
    return fingerprint(cfg.augment.model_dump(mode="json"), cfg.teacher.model_dump(mode="json"),
                       cfg.data.model_dump(mode="json"), questions, submit_only)


def peak_rss_mb() -> float:
    """This process's peak resident memory (the driver's: Ray's workers are other processes)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _extra(results: dict[str, StepResult]) -> dict[str, Any]:
    difficulty = results["difficulty"].stats.get("path")
    extra: dict[str, Any] = {"difficulty": difficulty} if difficulty else {}
    if "dars" in results and "summary" in results["dars"].stats:
        extra["dars"] = results["dars"].stats["summary"]
    return extra


def _drops(results: dict[str, StepResult]) -> Counter:
    drops: Counter = Counter()
    for name in ("round 1", "round 2"):
        drops += results[name].value[1]
    return drops


def write_stats(cfg: MetaMathConfig, results: dict[str, StepResult], n_questions: int, train, started: float,
                driver: dict[str, Any], estimate: dict[str, Any] | None) -> dict[str, Any]:
    """stats.json (and the dataset card) from the steps' own stats."""
    aug, teacher = cfg.augment, cfg.teacher
    built = results["assemble"].stats
    kept = Counter(built["kept"])
    filter_drops = {kind: Counter(reasons) for kind, reasons in built["filter_drops"].items()}
    verdicts = results["verify"].stats["verdicts"]
    requests, cost = request_totals([r.run for r in paid_rounds(results)], teacher, estimate)
    stats = {
        "dataset": aug.dataset, "questions": n_questions, "malformed_rows_skipped": len(train.skipped),
        "teacher": {"backend": teacher.backend, "model": teacher.model, "base_url": redact_url(teacher.base_url)},
        "requests": requests, "cost": cost,
        "types": type_table(verdicts, _drops(results), filter_drops, kept, lambda m: record_type(aug.dataset, m)),
        "filters": {"kept": sum(kept.values()), "dropped": built["report"]},
        "original_rows": built["rows"] - sum(kept.values()), "rows": built["rows"],
        "elapsed_s": round(time.time() - started, 1), "ray_up_at": driver["ray_up_at"], "driver": driver,
        "outputs": {name: storage.join(aug.output_dir, name) for name in ("metamathqa.jsonl", "metamathqa.parquet", "stats.json")},
        **_extra(results),
    }
    storage.write_text(storage.join(aug.output_dir, "stats.json"), json.dumps(stats, indent=2) + "\n")
    write_card(cfg, stats)  # the folder is a Hugging Face dataset: load_dataset(output_dir)
    print_summary(stats)
    return stats
