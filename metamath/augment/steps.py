"""The augment stage's steps (see metamath.steps): each maps what the steps before it wrote to
its own output folder and reports its own stats.

    round 1   questions -> work/round1/      (solve, rephrase, rewrite: one row per sample)
    round 2   round-1 asks -> work/round2/   (solve the rephrasings, SV)
    dars      difficulty-aware rounds -> work/dars*/, judged as each lands (when configured)
    spend     stop at the budget (exit 3) once the paying steps are done
    verify    every solve judged (stored verdicts reused) -> work/verified/; the store compacted
    difficulty  per-question pass rates -> difficulty.parquet (several samples per question)
    assemble  dedup, decontaminate, subsample -> metamathqa.{parquet,jsonl}

A round with failed samples or stopped by the budget is not finished: a re-run sends what is
missing. Everything else, once finished, is skipped by a re-run of the same config.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from metamath import storage
from metamath.augment.tasks import AugmentContext, round1_drops, round1_groups, round2_drops, round2_groups
from metamath.config import MetaMathConfig
from metamath.data.benchmarks import Problem
from metamath.generation.accounting import RoundAccount
from metamath.generation.round import Round, run_round
from metamath.ray_data import count_by, read_shards, union_all, write_parquet
from metamath.ray_utils import LIGHT_CPUS
from metamath.steps import Step, StepResult


@dataclass
class AugmentRun:
    """What every step of one run reads."""

    cfg: MetaMathConfig
    ctx: AugmentContext
    problems: list[Problem]
    questions: Any  # the problems as a Ray Dataset
    run_id: str
    started: float
    estimate: dict[str, Any] | None

    @property
    def out(self) -> str:
        return self.cfg.augment.output_dir

    @property
    def store(self) -> str:
        return storage.join(self.out, "responses")

    def work(self, name: str) -> str:
        return storage.join(self.out, "work", name)


def round_result(done: Round, drops: Counter, submit_only: bool) -> StepResult:
    finished = not (done.run.over_budget or done.run.samples_failed or submit_only)
    stats = {"rows": done.rows, "stages": done.stages, "account": asdict(done.run),
             "drops": [[*key, n] for key, n in drops.items()]}
    return StepResult(stats, done.path, finished, (done, drops))


def restore_round(entry: dict[str, Any]) -> StepResult:
    """A finished round as a re-run reads it: every sample from the store, nothing sent."""
    stats = entry["stats"]
    account = RoundAccount(**stats["account"]).as_cached()
    done = Round(entry["output"], account, stats["rows"], stats["stages"])
    return StepResult(stats, entry["output"], True, (done, Counter({tuple(d[:-1]): d[-1] for d in stats["drops"]})))


def after_round(teacher, done: Round):
    """The teacher config for the next paying round: the caps less what `done` spent."""
    from metamath.augment.accounting import request_totals
    from metamath.generation.budget import remaining

    if teacher.max_cost_usd is None and teacher.max_requests is None:
        return teacher
    _, cost = request_totals([done.run], teacher)
    return remaining(teacher, cost["this_run"], done.run.sent)


def teacher_left(run: AugmentRun, done: list[Round]):
    teacher = run.ctx.teacher
    for one in done:
        teacher = after_round(teacher, one)
    return teacher


def round1(run: AugmentRun) -> Step:
    def go(results: dict[str, StepResult]) -> StepResult:
        ctx = run.ctx
        groups = run.questions.flat_map(round1_groups, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS)
        done = run_round(groups, ctx.teacher, run.store, run.work("round1"), "round 1 (solve, rephrase, rewrite)",
                         f"{run.run_id}:round1", batch_dir=storage.join(run.out, "batches", "round1"),
                         submit_only=ctx.submit_only)
        # one row per question at most: counted here, without a Ray Data execution
        drops = Counter((d["method"], d["reason"]) for p in run.problems for d in round1_drops(p.to_dict(), ctx))
        return round_result(done, drops, ctx.submit_only)

    return Step("round 1", go, restore_round)


def round2(run: AugmentRun) -> Step:
    def go(results: dict[str, StepResult]) -> StepResult:
        from ray.data.expressions import col

        first, _ = results["round 1"].value
        if first.run.over_budget:  # the cap is reached: round 2 would send nothing
            return round_result(Round(run.work("round2"), RoundAccount(), 0), Counter(), run.ctx.submit_only)
        ctx = run.ctx.with_teacher(teacher_left(run, [first]))
        # Round 2 builds on round 1's rephrasings and rewrites; AnsAug alone asks for none.
        asks = read_shards(first.path) if any(s != "solve" for s in first.stages) else None
        asks = asks.filter(expr=col("stage") != "solve", num_cpus=LIGHT_CPUS) if asks is not None else None
        groups = asks.flat_map(round2_groups, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS) if asks else None
        done = run_round(groups, ctx.teacher, run.store, run.work("round2"), "round 2 (solve rephrased, SV)",
                         f"{run.run_id}:round2", batch_dir=storage.join(run.out, "batches", "round2"),
                         submit_only=ctx.submit_only)
        drops = count_by(asks.flat_map(round2_drops, fn_kwargs={"ctx": ctx}, num_cpus=LIGHT_CPUS),
                         ["method", "reason"]) if asks is not None else Counter()
        return round_result(done, drops, ctx.submit_only)

    return Step("round 2", go, restore_round)


def paid_rounds(results: dict[str, StepResult]) -> list[Round]:
    rounds = [results[name].value[0] for name in ("round 1", "round 2")]
    return rounds + (results["dars"].value[0] if "dars" in results else [])


def dars(run: AugmentRun) -> Step:
    """The DARS rounds after rounds 1 and 2 (their spend off the budget); never skipped: each
    round's questions follow from the verdicts before it (its requests come from the store)."""
    def go(results: dict[str, StepResult]) -> StepResult:
        from metamath.augment.dars import summary
        from metamath.augment.dars_rounds import run_dars

        rounds = paid_rounds(results)
        if any(r.run.over_budget for r in rounds):
            return StepResult({}, None, False, ([], [], None))
        ctx = run.ctx.with_teacher(teacher_left(run, rounds))
        done, judged, states = run_dars(run.problems, ctx, run.store, storage.join(run.out, "work"), run.run_id,
                                        after_round)
        stats = {"summary": summary(states, run.cfg.augment.dars, len(done)), "rounds": len(done)}
        return StepResult(stats, None, False, (done, judged, states))

    return Step("dars", go)


def spend(run: AugmentRun) -> Step:
    """Once the paying steps are done: a run the budget stopped writes its stats and exits 3."""
    def go(results: dict[str, StepResult]) -> StepResult:
        from metamath.augment.spend import stop_at_budget

        rounds = paid_rounds(results)
        if any(r.run.over_budget for r in rounds):
            stop_at_budget(run.cfg, rounds, len(run.problems), run.started, run.estimate)
        return StepResult()

    return Step("spend", go, lambda entry: StepResult())


def verify(run: AugmentRun) -> Step:
    """Every solve judged (or its stored verdict reused), with the DARS rounds' rows (judged round
    by round), written to work/verified/; then the store compacted (the run's verdicts and last
    responses join its Parquet segments), in a task: nothing that grows with the data reaches
    the driver but the verdict counts."""
    def go(results: dict[str, StepResult]) -> StepResult:
        from metamath.generation.cache.store import compact_in_task

        out = run.work("verified")
        storage.clear_folder(out)
        verified = judged_rows(run, results)
        if verified is not None:
            write_parquet(verified, out, ray_remote_args={"num_cpus": LIGHT_CPUS})
        compact_in_task(run.store)
        written = read_shards(out)
        tally = count_by(written, ["type", "verdict", "reason"])
        verdicts = [{"type": t, "verdict": v, "reason": r, "count": n} for (t, v, r), n in tally.items()]
        return StepResult({"verdicts": verdicts}, out, True, written)

    return Step("verify", go, lambda entry: StepResult(entry["stats"], entry["output"], True,
                                                       read_shards(entry["output"])))


def judged_rows(run: AugmentRun, results: dict[str, StepResult]):
    """The rounds' solves through verify_batch, with the DARS rounds' judged rows; None: no rows."""
    from ray.data.expressions import col

    from metamath.augment.verify import verify_batch

    first = read_shards(results["round 1"].value[0].path)
    first = first.filter(expr=col("stage") == "solve", num_cpus=LIGHT_CPUS) if first is not None else None
    parts = [p for p in (first, read_shards(results["round 2"].value[0].path)) if p is not None]
    kwargs = {"dataset": run.ctx.dataset, "teacher_model": run.ctx.teacher.model, "store_root": run.store,
              "run": f"{run.run_id}:verify"}
    verified = [union_all(parts).map_batches(verify_batch, fn_kwargs=kwargs, batch_format="pyarrow", batch_size=1024,
                                             num_cpus=0.5)] if parts else []
    judged = results["dars"].value[1] if "dars" in results else []
    return union_all(verified + judged) if verified or judged else None


def difficulty(run: AugmentRun) -> Step:
    """difficulty.parquet: per question its trials and pass rate, when a method samples several."""
    def go(results: dict[str, StepResult]) -> StepResult:
        from metamath.augment.dars_rounds import ansaug_difficulty, write_difficulty

        aug, verified = run.cfg.augment, results["verify"].value
        states = results["dars"].value[2] if "dars" in results else None
        several = "ansaug" in aug.methods and aug.samples.ansaug > 1
        ansaug = ansaug_difficulty(verified) if several and verified is not None else []
        path = write_difficulty(run.out, run.problems, ansaug, states, aug.samples.ansaug if several else 1)
        return StepResult({"path": path}, path, True, path)

    return Step("difficulty", go, lambda entry: StepResult(entry["stats"], entry["output"], True, entry["output"]))


def assemble(run: AugmentRun) -> Step:
    """DARS's quotas, then dedup, decontamination, subsampling and the two files."""
    def go(results: dict[str, StepResult]) -> StepResult:
        from metamath.augment.assemble_dataset import assemble_rows
        from metamath.augment.dars_rounds import within_quotas

        verified, over_quota = results["verify"].value, Counter()
        verdicts = results["verify"].stats["verdicts"]
        if "dars" in results and results["dars"].value[2] is not None:
            verified, over_quota = within_quotas(verified, results["dars"].value[2])
        filter_drops, report, kept, rows = assemble_rows(verified, run.cfg, run.problems, verdicts)
        for kind, n in over_quota.items():  # counted, never silently gone
            filter_drops.setdefault(kind, Counter())["over_quota"] += n
            report["over_quota"] += n
        stats = {"filter_drops": {k: dict(v) for k, v in filter_drops.items()}, "report": dict(report),
                 "kept": dict(kept), "rows": rows}
        return StepResult(stats, storage.join(run.out, "metamathqa.parquet"), True)

    return Step("assemble", go, lambda entry: StepResult(entry["stats"], entry["output"], True))


def augment_steps(run: AugmentRun) -> list[Step]:
    dars_steps = [dars(run)] if "dars" in run.cfg.augment.methods else []
    return [round1(run), round2(run), *dars_steps, spend(run), verify(run), difficulty(run), assemble(run)]
