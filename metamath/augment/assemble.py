"""From verified rows to the final MetaMathQA: order, dedup, decontaminate, subsample, originals."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict

from metamath.config import AugmentConfig
from metamath.data.benchmarks import Problem, load_benchmark
from metamath.records import (
    RECORD_TYPES, ContaminationIndex, FilterReport, MetaMathQARecord, decontaminate, dedup_exact,
    finalize_response, record_type,
)


def stable_order(records: list[MetaMathQARecord]) -> list[MetaMathQARecord]:
    """Independent of arrival order, so a resumed run writes the same file."""
    rank = {t: i for i, t in enumerate(RECORD_TYPES)}
    return sorted(records, key=lambda r: (rank[r.type], r.source_id, r.query, r.sample_index, r.request_key))


def sub_rank(seed: int, kind: str, request_key: str, query: str) -> int:
    """A row's seeded place in its type's draw: a hash, so any worker ranks any row alone."""
    digest = hashlib.sha256(f"{seed}\x00{kind}\x00{request_key}\x00{query}".encode()).hexdigest()
    return int(digest[:15], 16)  # fits in an int64 column


def rank_cuts(ranks_by_type: dict[str, list[int]], targets: dict[str, int]) -> dict[str, int]:
    """type -> the largest rank kept, for the types with more rows than their target."""
    return {kind: sorted(ranks)[targets[kind] - 1] for kind, ranks in ranks_by_type.items()
            if kind in targets and len(ranks) > targets[kind]}


def subsample(records: list[MetaMathQARecord], targets: dict[str, int], seed: int,
              report: FilterReport) -> list[MetaMathQARecord]:
    """At most targets[type] rows per type: those of smallest seeded hash rank (the same rows in
    whatever order they arrive, and what the Ray Data assembly keeps); order kept."""
    ranks = [sub_rank(seed, r.type, r.request_key, r.query) for r in records]
    by_type: dict[str, list[int]] = defaultdict(list)
    for record, rank in zip(records, ranks):
        by_type[record.type].append(rank)
    cuts = rank_cuts(by_type, targets)
    for kind, cut in cuts.items():
        report.dropped[f"subsampled:{kind}"] += len(by_type[kind]) - targets[kind]
    return [r for r, rank in zip(records, ranks) if r.type not in cuts or rank <= cuts[r.type]]


def test_set_index(n: int, root: str | None) -> ContaminationIndex:
    index = ContaminationIndex(n)
    index.add("gsm8k_test", [p.question for p in load_benchmark("gsm8k", "test", root=root).problems])
    index.add("math_test", [p.question for p in load_benchmark("math", "test", root=root).problems])
    return index


def original_records(problems: list[Problem], dataset: str) -> list[MetaMathQARecord]:
    """The training solutions themselves (the paper's SFT baseline data), as AnsAug-typed rows
    with teacher 'original' and sample_index -1."""
    out = []
    for p in problems:
        reasoning = re.sub(r"<<[^>]*>>", "", p.solution)
        reasoning = re.sub(r"\n?####[^\n]*$", "", reasoning.strip())
        out.append(MetaMathQARecord(p.question, finalize_response(dataset, reasoning, p.gold),
                                    record_type(dataset, "ansaug"), p.question, p.id, "original", -1, ""))
    return out


def _by_type(rows: list[MetaMathQARecord]) -> Counter:
    return Counter(r.type for r in rows)


def assemble(records: list[MetaMathQARecord], aug: AugmentConfig, problems: list[Problem],
             data_root: str | None) -> tuple[list[MetaMathQARecord], FilterReport, dict[str, Counter]]:
    """(final rows, filter report, per-type drops by step: duplicate, contaminated, subsampled)."""
    report = FilterReport()
    drops: dict[str, Counter] = defaultdict(Counter)
    rows = stable_order(records)
    steps = [("duplicate", lambda r: dedup_exact(r, report))]
    if aug.decontaminate:
        index = test_set_index(aug.decontam_ngram, data_root)
        steps.append(("contaminated", lambda r: decontaminate(r, index, report)))
    steps.append(("subsampled", lambda r: subsample(r, aug.target_counts, aug.seed, report)))
    for name, step in steps:
        before = _by_type(rows)
        rows = step(rows)
        for kind, count in (before - _by_type(rows)).items():
            drops[kind][name] += count
    if aug.include_original:
        rows += original_records(problems, aug.dataset)
    report.kept = len(rows)
    return rows, report, drops
