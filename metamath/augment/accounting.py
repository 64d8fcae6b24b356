"""stats.json for an augment run: requests, tokens, cost, and per type what happened."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from metamath.config import TeacherConfig
from metamath.teacher.runner import TeacherRun


def redact_url(url: str | None) -> str | None:
    """Credentials never reach outputs, even when a user puts them in the URL."""
    return re.sub(r"//[^/@]+@", "//***@", url) if url else url


def request_totals(runs: list[TeacherRun], cfg: TeacherConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    totals: dict[str, Any] = {"sent": 0, "succeeded": 0, "retried": Counter(), "failed": Counter(),
                              "served_from_cache": 0, "samples_generated": 0, "samples_failed": 0,
                              "prompt_tokens": 0, "completion_tokens": 0}
    cached_prompt = cached_completion = 0
    for run in runs:
        totals["sent"] += run.sent
        totals["succeeded"] += run.succeeded
        totals["samples_generated"] += run.samples_ok
        totals["samples_failed"] += run.samples_failed
        totals["retried"].update(run.retried)
        totals["failed"].update(run.failed)
        totals["served_from_cache"] += run.from_cache
        totals["prompt_tokens"] += run.prompt_tokens
        totals["completion_tokens"] += run.completion_tokens
        cached = [r for r in run.rows if r.get("cached")]
        cached_prompt += sum(int(r.get("prompt_tokens") or 0) for r in cached)
        cached_completion += sum(int(r.get("completion_tokens") or 0) for r in cached)
    totals["retried_total"] = sum(totals["retried"].values())
    totals["failed_total"] = sum(totals["failed"].values())
    totals["retried"], totals["failed"] = dict(totals["retried"]), dict(totals["failed"])
    price = cfg.price_per_million
    cost = lambda p, c: (p * price.get("prompt", 0.0) + c * price.get("completion", 0.0)) / 1e6  # noqa: E731
    costs = {"price_per_million": dict(price), "this_run": round(cost(totals["prompt_tokens"], totals["completion_tokens"]), 6),
             "not_repaid_from_cache": round(cost(cached_prompt, cached_completion), 6)}
    return totals, costs


def type_table(checked: list[dict], pre_drops: list[dict], filter_drops: dict[str, Counter],
               kept: Counter, type_of) -> dict[str, Any]:
    """Per type: generated (solve samples), correct, dropped by reason, kept."""
    table: dict[str, dict[str, Any]] = defaultdict(lambda: {"generated": 0, "correct": 0, "dropped": Counter(), "kept": 0})
    for row in checked:
        entry = table[row["type"]]
        entry["generated"] += 1
        if row["verdict"] == "correct":
            entry["correct"] += 1
        else:
            entry["dropped"][row["reason"]] += 1
    for drop in pre_drops:
        table[type_of(drop["method"])]["dropped"][drop["reason"]] += 1
    for kind, counts in filter_drops.items():
        table[kind]["dropped"].update(counts)
    for kind, count in kept.items():
        table[kind]["kept"] = count
    return {kind: {**entry, "dropped": dict(entry["dropped"])} for kind, entry in sorted(table.items())}


def print_summary(stats: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"augment {stats['dataset']}: {stats['questions']} questions")
    for column in ("type", "generated", "correct", "dropped", "kept"):
        table.add_column(column, justify="left" if column in ("type", "dropped") else "right")
    for kind, entry in stats["types"].items():
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(entry["dropped"].items())) or "-"
        table.add_row(kind, str(entry["generated"]), str(entry["correct"]), dropped, str(entry["kept"]))
    req = stats["requests"]
    console = Console()
    console.print(table)
    console.print(f"requests sent {req['sent']} = succeeded {req['succeeded']} + retried {req['retried_total']} "
                  f"{req['retried'] or ''} + failed {req['failed_total']} {req['failed'] or ''}; samples: "
                  f"{req['samples_generated']} generated, {req['samples_failed']} failed, "
                  f"{req['served_from_cache']} from cache (not re-sent); tokens {req['prompt_tokens']} prompt + "
                  f"{req['completion_tokens']} completion; est. cost ${stats['cost']['this_run']:.4f}")
