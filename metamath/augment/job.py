"""`metamath augment`: the questions stream through Ray Data from the training file to
metamathqa.{jsonl,parquet}; the driver keeps counters only.

    questions -> round 1 groups -> [store lookup] -> teacher -> work/round1/  (one row per sample)
    work/round1 asks -> round 2 groups -> [store lookup] -> teacher -> work/round2/
    work/round1 solves + work/round2 -> verify (stored verdicts reused) -> object store
    verified correct -> dedup, decontaminate, subsample -> sorted shards -> the two files

Every response and verdict is journaled in `responses/` as it arrives; the journal is compacted
into Parquet between rounds and at the end. Re-running the command resumes: only samples without
a successful response are sent, and only new responses are judged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

from metamath import storage
from metamath.augment import assemble_dataset as assembly
from metamath.augment.accounting import fail_if_nothing_succeeded, print_summary, redact_url, request_totals, type_table
from metamath.augment.card import write_card
from metamath.augment.spend import plan_before_paying, stop_at_budget
from metamath.augment.tasks import AugmentContext, round1_drops, round1_groups, round2_drops, round2_groups
from metamath.augment.verify import verify_batch
from metamath.config import MetaMathConfig
from metamath.data.benchmarks import load_benchmark
from metamath.errors import DataError
from metamath.prompts import select_solve_shots
from metamath.ray_data import small_dataset
from metamath.records import record_type
from metamath.generation.accounting import RoundAccount
from metamath.generation.round import Round, run_round
from metamath.ray_data import count_by, read_shards, union_all
from metamath.ray_utils import LIGHT_CPUS
from metamath.storage import clear_folder
from metamath.generation.cache.store import Store
from metamath.timing import StageClock


def _rounds(questions, ctx: AugmentContext, store: str, work: str, run_id: str,
            clock: StageClock) -> tuple[list[Round], Counter]:
    """Both teacher rounds; returns them with the pre-teacher drops (method, reason) -> rows.
    In batch mode each round's batches live under <output_dir>/batches/<round>/ (kept across runs)."""
    from ray.data.expressions import col

    batches = storage.join(ctx.augment.output_dir, "batches")
    teacher = ctx.teacher
    with clock.stage("round 1"):
        first = run_round(questions.flat_map(round1_groups, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS), teacher,
                          store, storage.join(work, "round1"), "round 1 (solve, rephrase, rewrite)", f"{run_id}:round1",
                          batch_dir=storage.join(batches, "round1"), submit_only=ctx.submit_only)
        drops = count_by(questions.flat_map(round1_drops, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS),
                         ["method", "reason"])
    if first.run.over_budget:  # the cap is reached: round 2 would send nothing
        return [first, Round(storage.join(work, "round2"), RoundAccount(), 0)], drops
    teacher = _after_round(teacher, first)
    with clock.stage("round 2"):
        # Round 2 builds on round 1's rephrasings and rewrites; AnsAug alone asks for none.
        asks = read_shards(first.path) if any(s != "solve" for s in first.stages) else None
        asks = asks.filter(expr=col("stage") != "solve", num_cpus=LIGHT_CPUS) if asks is not None else None
        second_groups = asks.flat_map(round2_groups, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS) if asks else None
        second = run_round(second_groups, teacher, store, storage.join(work, "round2"), "round 2 (solve rephrased, SV)",
                           f"{run_id}:round2", batch_dir=storage.join(batches, "round2"), submit_only=ctx.submit_only)
        if asks is not None:
            drops += count_by(asks.flat_map(round2_drops, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS),
                              ["method", "reason"])
    return [first, second], drops


def _after_round(teacher, done: Round):
    """Round 2's teacher config: the run's caps less what round 1 spent."""
    from metamath.generation.budget import remaining

    if teacher.max_cost_usd is None and teacher.max_requests is None:
        return teacher
    _, cost = request_totals([done.run], teacher)
    return remaining(teacher, cost["this_run"], done.run.sent)


def _verify(rounds: list[Round], ctx: AugmentContext, store: str, run_id: str, judged: list):
    """Every solve judged (or its stored verdict reused); materialised in the object store (it
    spills to disk when large), since the tallies and the assembly both read it. `judged`: the
    DARS rounds' rows, already judged round by round."""
    from ray.data.expressions import col

    first = read_shards(rounds[0].path)
    parts = [p for p in (first.filter(expr=col("stage") == "solve", num_cpus=LIGHT_CPUS) if first is not None else None,
                         read_shards(rounds[1].path)) if p is not None]
    if not parts and not judged:
        return None
    kwargs = {"dataset": ctx.dataset, "teacher_model": ctx.teacher.model, "store_root": store,
              "run": f"{run_id}:verify"}
    verified = [union_all(parts).map_batches(verify_batch, fn_kwargs=kwargs, batch_format="pyarrow", batch_size=1024,
                                             num_cpus=0.5)] if parts else []
    return union_all(verified + judged).materialize()


def _dars(problems, ctx: AugmentContext, store: str, work: str, run_id: str, rounds: list[Round], clock):
    """The DARS rounds after rounds 1 and 2 (their spend off the budget): (rounds, judged, states)."""
    from metamath.augment.dars_rounds import run_dars

    if "dars" not in ctx.augment.methods or any(r.run.over_budget for r in rounds):
        return [], [], None
    teacher = ctx.teacher
    for done in rounds:
        teacher = _after_round(teacher, done)
    with clock.stage("dars"):
        return run_dars(problems, ctx.with_teacher(teacher), store, work, run_id, _after_round)


def run_augment(cfg: MetaMathConfig, submit_only: bool = False) -> dict[str, Any]:
    """The augment stage; `submit_only` (teacher.mode batch): stop once the batches are created."""

    from metamath.ray_utils import ensure_ray

    aug, teacher = cfg.require("augment"), cfg.teacher
    started = time.time()
    train = load_benchmark(aug.dataset, "train", path=aug.data_path, root=cfg.data.root, on_malformed=cfg.data.on_malformed)
    problems = train.problems[: aug.limit] if aug.limit else train.problems
    if not problems:
        raise DataError(f"{train.source}: no usable training questions")
    estimate = plan_before_paying(cfg)
    before_ray = time.time()
    ensure_ray()
    ray_up = time.time()
    out, run_id = aug.output_dir, f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    store, work = storage.join(out, "responses"), storage.join(out, "work")
    ctx = AugmentContext(aug, teacher, select_solve_shots(train.problems, aug.seed), submit_only)
    # Questions are few (thousands) beside the samples (millions): they may come from the driver.
    clock = StageClock()
    questions = small_dataset([p.to_dict() for p in problems])
    rounds, pre_drops = _rounds(questions, ctx, store, work, run_id, clock)
    dars_rounds, judged, dars_states = _dars(problems, ctx, store, work, run_id, rounds, clock)
    if any(r.run.over_budget for r in rounds + dars_rounds):
        stop_at_budget(cfg, rounds + dars_rounds, len(problems), started, estimate)
    with clock.stage("verify"):
        verified = _verify(rounds, ctx, store, run_id, judged)
        tally = count_by(verified, ["type", "verdict", "reason"]) if verified is not None else {}
        verdicts = [{"type": t, "verdict": v, "reason": r, "count": n} for (t, v, r), n in tally.items()]
    with clock.stage("compact store"):
        Store(store).compact()  # the run's verdicts and last responses join the Parquet segments
    difficulty = _difficulty(verified, aug, problems, out, dars_states)
    over_quota = Counter()
    if dars_states is not None:
        verified, over_quota = _within_quotas(verified, dars_states)
    rounds += dars_rounds
    with clock.stage("assemble"):
        filter_drops, report, kept = _assemble(verified, aug, problems, cfg.data.root, out, verdicts)
    for kind, n in over_quota.items():  # counted, never silently gone
        filter_drops.setdefault(kind, Counter())["over_quota"] += n
        report["over_quota"] += n
    driver = {"ray_up_at": ray_up, "ray_start_s": round(ray_up - before_ray, 2), "peak_rss_mb": peak_rss_mb(),
              "stages_s": clock.seconds}
    stats = _write_stats(cfg, rounds, verdicts, pre_drops, filter_drops, report, kept, len(problems), train,
                         started, driver, estimate, _extra(aug, dars_states, len(dars_rounds), difficulty))
    fail_if_nothing_succeeded(stats["requests"], "teacher")
    return stats


def _within_quotas(verified, states) -> tuple[Any, Counter]:
    """DARS keeps each question's first `quota` correct solutions (a round can find more):
    (the rows left, rows over quota per type)."""
    from ray.data.expressions import col

    from metamath.augment.dars import cutoffs, within_quota

    if verified is None:
        return None, Counter()
    correct = lambda ds: count_by(ds.filter(expr=col("verdict") == "correct", num_cpus=LIGHT_CPUS), ["type"])  # noqa: E731
    before = correct(verified)
    kept = verified.filter(within_quota, fn_kwargs={"cutoffs": cutoffs(states)}, num_cpus=LIGHT_CPUS).materialize()
    after = correct(kept)
    return kept, Counter({kind[0]: n - after.get(kind, 0) for kind, n in before.items() if n > after.get(kind, 0)})


def _difficulty(verified, aug, problems, out: str, dars_states) -> str | None:
    from metamath.augment.dars_rounds import ansaug_difficulty, write_difficulty

    several = "ansaug" in aug.methods and aug.samples.ansaug > 1
    ansaug = ansaug_difficulty(verified) if several and verified is not None else []
    return write_difficulty(out, problems, ansaug, dars_states, aug.samples.ansaug if several else 1)


def _assemble(verified, aug, problems, data_root, out: str, verdicts: list[dict]):
    from ray.data.expressions import col

    correct_rows = sum(v["count"] for v in verdicts if v["verdict"] == "correct")
    shards = storage.join(out, "metamathqa")
    clear_folder(shards)
    filter_drops, report, kept = {}, Counter(), Counter()
    if correct_rows:
        correct = verified.filter(expr=col("verdict") == "correct", num_cpus=LIGHT_CPUS)
        marked = assembly.mark(correct, aug, correct_rows, data_root)
        filter_drops, report, kept = assembly.drop_tally(marked)
        assembly.write_final(marked, problems, aug, shards)
    else:
        assembly.write_final(None, problems, aug, shards)
    rows = _ray_get(assembly.join_shards.remote(shards, storage.join(out, "metamathqa.parquet"), storage.join(out, "metamathqa.jsonl")))
    return filter_drops, report, Counter({**kept, "_rows": rows})


def _ray_get(ref):
    import ray

    return ray.get(ref)


def peak_rss_mb() -> float:
    """This process's peak resident memory (the driver's: Ray's workers are other processes)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _extra(aug, dars_states, dars_rounds: int, difficulty: str | None) -> dict[str, Any]:
    from metamath.augment.dars import summary

    extra: dict[str, Any] = {"difficulty": difficulty} if difficulty else {}
    if dars_states is not None:
        extra["dars"] = summary(dars_states, aug.dars, dars_rounds)
    return extra


def _write_stats(cfg, rounds, verdicts, pre_drops, filter_drops, report, kept, n_questions, train, started, driver,
                 estimate, extra):
    aug, teacher = cfg.augment, cfg.teacher
    rows = kept.pop("_rows")
    requests, cost = request_totals([r.run for r in rounds], teacher, estimate)
    stats = {
        "dataset": aug.dataset, "questions": n_questions, "malformed_rows_skipped": len(train.skipped),
        "teacher": {"backend": teacher.backend, "model": teacher.model, "base_url": redact_url(teacher.base_url)},
        "requests": requests, "cost": cost,
        "types": type_table(verdicts, pre_drops, filter_drops, kept, lambda m: record_type(aug.dataset, m)),
        "filters": {"kept": sum(kept.values()), "dropped": dict(report)},
        "original_rows": rows - sum(kept.values()), "rows": rows,
        "elapsed_s": round(time.time() - started, 1), "ray_up_at": driver["ray_up_at"], "driver": driver,
        "outputs": {name: storage.join(aug.output_dir, name) for name in ("metamathqa.jsonl", "metamathqa.parquet", "stats.json")},
        **extra,
    }
    storage.write_text(storage.join(aug.output_dir, "stats.json"), json.dumps(stats, indent=2) + "\n")
    write_card(cfg, stats)  # the folder is a Hugging Face dataset: load_dataset(output_dir)
    print_summary(stats)
    return stats
