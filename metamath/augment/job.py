"""`metamath augment`: read questions, run the methods through the teacher in two rounds,
verify, assemble, write metamathqa.{jsonl,parquet} and stats.json. Re-running resumes."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from metamath.augment.accounting import print_summary, redact_url, request_totals, type_table
from metamath.augment.assemble import assemble
from metamath.augment.tasks import AugmentContext, round1, round2
from metamath.augment.verify import verify_batch
from metamath.config import MetaMathConfig
from metamath.data.benchmarks import Problem, load_benchmark
from metamath.errors import DataError
from metamath.prompts import select_solve_shots
from metamath.records import MetaMathQARecord, record_type, write_jsonl, write_parquet
from metamath.teacher.runner import run_groups


def _round1_rows(problems: list[Problem], ctx: AugmentContext) -> tuple[list, list[dict]]:
    import ray

    def build(row: dict[str, Any]) -> list[dict[str, Any]]:
        groups, drops = round1(Problem(**row), ctx)
        return [{"group": json.dumps(g.to_row()), "drop": None} for g in groups] + \
               [{"group": None, "drop": json.dumps(d)} for d in drops]

    built = ray.data.from_items([p.to_dict() for p in problems]).flat_map(build).take_all()
    from metamath.teacher.requests import RequestGroup

    groups = [RequestGroup(**json.loads(r["group"])) for r in built if r["group"]]
    return groups, [json.loads(r["drop"]) for r in built if r["drop"]]


def _verify(rows: list[dict], dataset: str, model: str) -> list[dict]:
    import ray

    if not rows:
        return []
    return ray.data.from_items(rows).map_batches(
        verify_batch, fn_kwargs={"dataset": dataset, "teacher_model": model}, batch_format="pandas", batch_size=64,
    ).take_all()


def run_augment(cfg: MetaMathConfig) -> dict[str, Any]:
    from metamath.ray_utils import ensure_ray

    aug, teacher = cfg.require("augment"), cfg.teacher
    started = time.time()
    train = load_benchmark(aug.dataset, "train", path=aug.data_path, root=cfg.data.root, on_malformed=cfg.data.on_malformed)
    problems = train.problems[: aug.limit] if aug.limit else train.problems
    if not problems:
        raise DataError(f"{train.source}: no usable training questions")
    ensure_ray()
    out = Path(aug.output_dir)
    store = str(out / "responses") if "://" not in aug.output_dir else aug.output_dir.rstrip("/") + "/responses"
    ctx = AugmentContext(aug, teacher, select_solve_shots(train.problems, aug.seed))
    groups1, drops = _round1_rows(problems, ctx)
    run1 = run_groups(groups1, teacher, store, "round 1 (solve, rephrase, rewrite)")
    solves = [r for r in run1.rows if json.loads(r["meta"])["stage"] == "solve"]
    groups2 = []
    for row in (r for r in run1.rows if json.loads(r["meta"])["stage"] != "solve"):
        group, drop = round2(row, ctx)
        groups2 += [group] if group else []
        drops += [drop] if drop else []
    run2 = run_groups(groups2, teacher, store, "round 2 (solve rephrased, SV)")
    solves += run2.rows
    checked = _verify(solves, aug.dataset, teacher.model)
    records = [MetaMathQARecord(**json.loads(r["record"])) for r in checked if r["record"]]
    final, report, filter_drops = assemble(records, aug, problems, cfg.data.root)
    return _write(final, report, filter_drops, checked, drops, [run1, run2], cfg, len(problems), train, started)


def _write(final, report, filter_drops, checked, drops, runs, cfg, n_questions, train, started) -> dict[str, Any]:
    aug, teacher = cfg.augment, cfg.teacher
    out = Path(aug.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(final, out / "metamathqa.jsonl")
    write_parquet(final, out / "metamathqa.parquet")
    requests, cost = request_totals(runs, teacher)
    kept = Counter(r.type for r in final if r.teacher != "original")
    stats = {
        "dataset": aug.dataset, "questions": n_questions, "malformed_rows_skipped": len(train.skipped),
        "teacher": {"backend": teacher.backend, "model": teacher.model, "base_url": redact_url(teacher.base_url)},
        "requests": requests, "cost": cost,
        "types": type_table(checked, drops, filter_drops, kept, lambda m: record_type(aug.dataset, m)),
        "filters": report.to_dict(), "original_rows": sum(r.teacher == "original" for r in final),
        "rows": len(final), "elapsed_s": round(time.time() - started, 1),
        "outputs": {name: str(out / name) for name in ("metamathqa.jsonl", "metamathqa.parquet", "stats.json")},
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print_summary(stats)
    return stats
