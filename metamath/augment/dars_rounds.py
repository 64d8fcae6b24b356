"""The DARS loop on Ray: one teacher round per step (run_round: store, ledger, limiter, batch
mode), each judged as it lands; the driver keeps one small state per question, never a sample.
Also `difficulty.parquet`: per question trials, correct, pass rate and solved, for DARS and for
AnsAug with several samples per question."""

from __future__ import annotations

from collections import Counter
from typing import Any

from metamath import storage
from metamath.augment.dars import QuestionState, difficulty_rows, record_round, round_groups
from metamath.augment.tasks import AugmentContext
from metamath.augment.verify import verify_batch
from metamath.data.benchmarks import Problem
from metamath.ray_data import small_dataset
from metamath.ray_utils import LIGHT_CPUS
from metamath.generation.round import Round, run_round
from metamath.ray_data import count_by, read_shards


def _judged(done: Round, ctx: AugmentContext, store: str, run_tag: str):
    rows = read_shards(done.path)
    if rows is None:
        return None
    kwargs = {"dataset": ctx.dataset, "teacher_model": ctx.teacher.model, "store_root": store, "run": f"{run_tag}:verify"}
    return rows.map_batches(verify_batch, fn_kwargs=kwargs, batch_format="pyarrow", batch_size=1024,
                            num_cpus=0.5).materialize()


def answered_row(row: dict[str, Any]) -> bool:
    """A sample that came back (a failed request is no trial); in Python, since a null reason
    (a correct answer has none) compares as null in an Arrow expression and would be dropped."""
    return row["reason"] != "request_failed"


def _round_verdicts(verified) -> dict[str, list[tuple[int, str]]]:
    """question -> [(sample index, verdict)] of one round's answered samples (failed requests are
    not trials: the next round asks for them again)."""
    from ray.data.expressions import col

    answered = verified.filter(answered_row, num_cpus=LIGHT_CPUS)
    counts = count_by(answered, ["question_id", "verdict"])
    correct = answered.filter(expr=col("verdict") == "correct", num_cpus=LIGHT_CPUS)
    indices: dict[str, list[int]] = {}
    for row in correct.select_columns(["question_id", "sample_index"]).take_all():
        indices.setdefault(row["question_id"], []).append(int(row["sample_index"]))
    out: dict[str, list[tuple[int, str]]] = {}
    for (question, verdict), n in counts.items():
        if verdict == "correct":
            out.setdefault(question, []).extend((i, "correct") for i in indices.get(question, []))
        else:
            out.setdefault(question, []).extend((-1, verdict) for _ in range(n))
    return out


def run_dars(problems: list[Problem], ctx: AugmentContext, store: str, work: str, run_id: str,
             after_round) -> tuple[list[Round], list, dict[str, QuestionState]]:
    """Every DARS round until no question is left: (rounds, their judged rows, the states)."""
    states = {p.id: QuestionState() for p in problems}
    rounds, judged, teacher = [], [], ctx.teacher
    batches = storage.join(ctx.augment.output_dir, "batches")
    for number in range(10_000):
        groups = round_groups(problems, states, ctx.with_teacher(teacher))
        if not groups:
            break
        tag = f"{run_id}:dars{number}"
        done = run_round(small_dataset(groups), teacher, store, storage.join(work, f"dars{number}"),
                         f"DARS round {number + 1} ({len(groups)} questions)", tag,
                         batch_dir=storage.join(batches, f"dars{number}"), submit_only=ctx.submit_only)
        rounds.append(done)
        verified = _judged(done, ctx, store, tag)
        if verified is None or done.run.over_budget:
            break
        judged.append(verified)
        verdicts = _round_verdicts(verified)
        if not verdicts:  # every request of the round failed: stop rather than ask forever
            break
        record_round(states, verdicts, ctx.augment.dars)
        teacher = after_round(teacher, done)
    return rounds, judged, states


def ansaug_difficulty(verified) -> list[dict[str, Any]]:
    """Per question trials and correct of AnsAug's samples (several per question)."""
    from ray.data.expressions import col

    answered = verified.filter(expr=col("method") == "ansaug", num_cpus=LIGHT_CPUS).filter(answered_row,
                                                                                          num_cpus=LIGHT_CPUS)
    counts = count_by(answered, ["question_id", "verdict"])
    per: dict[str, Counter] = {}
    for (question, verdict), n in counts.items():
        per.setdefault(question, Counter())[verdict] += n
    return [{"question_id": q, "trials": sum(c.values()), "correct": c["correct"]} for q, c in per.items()]


def write_difficulty(out: str, problems: list[Problem], ansaug: list[dict], dars_states: dict | None,
                     samples_ansaug: int) -> str | None:
    """difficulty.parquet beside the dataset; None when no method samples several per question."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    by_id = {p.id: p for p in problems}
    rows = []
    if samples_ansaug > 1:
        rows += [{**r, "method": "ansaug", "pass_rate": round(r["correct"] / r["trials"], 6) if r["trials"] else None,
                  "solved": r["correct"] > 0, "quota": None, "level": by_id[r["question_id"]].level,
                  "subject": by_id[r["question_id"]].subject} for r in ansaug if r["question_id"] in by_id]
    if dars_states:
        rows += difficulty_rows(dars_states, problems, "dars")
    if not rows:
        return None
    path = storage.join(out, "difficulty.parquet")
    fs, inner = storage.filesystem(path)
    schema = pa.schema([("question_id", pa.string()), ("method", pa.string()), ("trials", pa.int64()),
                        ("correct", pa.int64()), ("pass_rate", pa.float64()), ("solved", pa.bool_()),
                        ("quota", pa.int64()), ("level", pa.int64()), ("subject", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, inner, filesystem=fs)
    return path


def within_quotas(verified, states) -> tuple[Any, Counter]:
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
