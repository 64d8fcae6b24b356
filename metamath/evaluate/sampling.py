"""`evaluate.samples: k` > 1: k sampled completions per item next to the greedy one, scored
under both scorers, and per scorer maj@k (majority vote over extracted answers), pass@1 and
pass@k (the unbiased estimator) in `report.json` as `<benchmark>.sampling`.

The sampled completions go through the same store as the greedy ones (their keys carry the
temperature and the sample index), so a re-run or a larger k decodes only what is missing;
every sample is written to `<benchmark>/samples.jsonl` with its verdicts.
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

import ray

from metamath import storage
from metamath.config.schema import EvaluateConfig
from metamath.evaluate.paired import SCORERS
from metamath.generation.accounting import RoundAccount
from metamath.evaluate.results import decode_stats, prediction_line, sorted_rows
from metamath.scoring.report import scorer_entry
from metamath.scoring.sampling import answer_equality, pass_at_k, sample_metrics


def sampling_summary(cfg: EvaluateConfig, benchmark: str, scored: str, out: str,
                     account: RoundAccount | None) -> dict[str, Any]:
    """The report's `sampling`: the k samples of every item (decoded in the run's one round,
    scored under `scored`) summarised, and written to <benchmark>/samples.jsonl."""
    summary: dict[str, Any] = {"n": 0}
    if account is not None:
        summary = ray.get(summarise_samples.remote(scored, benchmark, cfg.samples,
                                                   storage.join(out, benchmark, "samples.jsonl")))
    return {"k": cfg.samples, "temperature": cfg.temperature, "top_p": cfg.top_p, **summary,
            "decode": decode_stats(account or RoundAccount())}


def item_metrics(benchmark: str, rows: list[dict[str, Any]], k: int) -> dict[str, dict[str, float]]:
    """{scorer: {maj@k, pass@1, pass@k}} of one item's samples; a sample that never came back
    counts as a wrong one with no vote."""
    rows = rows + [{}] * (k - len(rows))
    metrics = {}
    for scorer in SCORERS:
        answers = [row.get(f"{scorer}_answer") for row in rows]
        correct = [bool(row.get(f"{scorer}_correct")) for row in rows]
        verdict_of = {}
        for answer, right in zip(answers, correct):
            verdict_of.setdefault(answer, right)  # the vote's winner is its first sample's answer
        found = sample_metrics(answers, correct, k, answer_equality(benchmark, scorer), verdict_of.__getitem__)
        metrics[scorer] = {**found, "pass@1": pass_at_k(len(correct), sum(correct), 1)}
    return metrics


@ray.remote(num_cpus=0.25)
def summarise_samples(scored: str, benchmark: str, k: int, jsonl_path: str) -> dict[str, Any]:
    """One pass over the samples sorted by item: samples.jsonl and the sums behind the metrics."""
    sums = {scorer: {f"maj@{k}": 0.0, "pass@1": 0.0, f"pass@{k}": 0.0} for scorer in SCORERS}
    n = 0
    with storage.open_text_output(jsonl_path) as handle:
        for _, group in groupby(sorted_rows(scored), key=lambda row: row["index"]):
            rows = list(group)
            for row in rows:
                handle.write(json.dumps({**prediction_line(row), "sample_index": row["sample_index"]},
                                        ensure_ascii=False) + "\n")
            n += 1
            for scorer, found in item_metrics(benchmark, rows, k).items():
                for name, value in found.items():
                    sums[scorer][name] += value
    summary: dict[str, Any] = {"n": n}
    for scorer, totals in sums.items():
        majority = round(totals[f"maj@{k}"])
        summary[scorer] = {f"maj@{k}": scorer_entry(majority, n),
                           **{name: round(totals[name] / n, 4) if n else 0.0 for name in ("pass@1", f"pass@{k}")}}
    return summary
