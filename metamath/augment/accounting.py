"""stats.json for an augment run: requests, tokens, cost, and per type what happened."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from metamath.config import TeacherConfig
from metamath.generation.accounting import RoundAccount


def redact_url(url: str | None) -> str | None:
    """Credentials never reach outputs, even when a user puts them in the URL."""
    return re.sub(r"//[^/@]+@", "//***@", url) if url else url


def request_totals(runs: list[RoundAccount], cfg: TeacherConfig,
                   estimate: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request counts, costs); `estimate` is the plan's, kept beside what was paid."""
    run = RoundAccount()
    for part in runs:
        run.merge(part)
    totals: dict[str, Any] = {
        "sent": run.sent, "succeeded": run.succeeded, "retried": dict(run.retried), "failed": dict(run.failed),
        "retried_total": sum(run.retried.values()), "failed_total": sum(run.failed.values()),
        "lost_with_worker": run.lost, "worker_restarts": run.worker_restarts,
        "served_from_cache": run.from_cache, "samples_generated": run.samples_ok, "samples_failed": run.samples_failed,
        "prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens,
        "by_mode": {"online": run.sent - run.batch_sent, "batch": run.batch_sent},
        "not_sent_over_budget": run.over_budget,
    }
    price = cfg.price_per_million
    cost = lambda p, c: (p * price.get("prompt", 0.0) + c * price.get("completion", 0.0)) / 1e6  # noqa: E731
    lost = cost(run.lost_prompt_tokens, run.lost_completion_tokens)  # estimated: their usage never came back
    # batch requests are billed at the discounted price; the rest at the online price
    batch = cost(run.batch_prompt_tokens, run.batch_completion_tokens) * cfg.batch_discount
    online = cost(max(0, run.prompt_tokens - run.batch_prompt_tokens),
                  max(0, run.completion_tokens - run.batch_completion_tokens))
    costs = {"price_per_million": dict(price), "this_run": round(online + batch + lost, 6),
             "online": round(online, 6), "batch": round(batch, 6), "batch_discount": cfg.batch_discount,
             "lost_with_worker_estimated": round(lost, 6),
             "not_repaid_from_cache": round(cost(run.cached_prompt_tokens, run.cached_completion_tokens), 6)}
    if cfg.max_cost_usd is not None:
        costs["max_cost_usd"] = cfg.max_cost_usd
    if estimate is not None:
        costs["estimate"] = estimate
    return totals, costs


def type_table(verdicts: list[dict], pre_drops: Counter, filter_drops: dict[str, Counter],
               kept: Counter, type_of) -> dict[str, Any]:
    """Per type: generated (solve samples), correct, dropped by reason, kept. `verdicts` are
    tally rows {type, verdict, reason, count}; `pre_drops` counts (method, reason) pairs."""
    table: dict[str, dict[str, Any]] = defaultdict(lambda: {"generated": 0, "correct": 0, "dropped": Counter(), "kept": 0})
    for row in verdicts:
        entry = table[row["type"]]
        # generated = samples that came back; a failed request is a drop (request_failed), so the
        # table agrees with the summary's "samples generated"
        entry["generated"] += row["count"] if row["reason"] != "request_failed" else 0
        if row["verdict"] == "correct":
            entry["correct"] += row["count"]
        else:
            entry["dropped"][row["reason"]] += row["count"]
    for (method, reason), count in pre_drops.items():
        table[type_of(method)]["dropped"][reason] += count
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
                  f"{req['retried'] or ''} + failed {req['failed_total']} {req['failed'] or ''}"
                  + (f" + lost with a worker {req['lost_with_worker']}" if req.get("lost_with_worker") else "")
                  + (f" ({req['worker_restarts']} worker restart(s))" if req.get("worker_restarts") else "")
                  + (f" ({req['by_mode']['batch']} by batch)" if req.get("by_mode", {}).get("batch") else "")
                  + "; samples: "
                  f"{req['samples_generated']} generated, {req['samples_failed']} failed, "
                  f"{req['served_from_cache']} from cache (not re-sent); tokens {req['prompt_tokens']} prompt + "
                  f"{req['completion_tokens']} completion; est. cost ${stats['cost']['this_run']:.4f}"
                  + _planned(stats["cost"]))


def _planned(cost: dict[str, Any]) -> str:
    """The plan's estimate beside the cost, for the run's mode."""
    estimate = cost.get("estimate")
    if not estimate:
        return ""
    key = "batch" if estimate["mode"] == "batch" else "online"
    return f" (planned ${estimate[key]:.4f}, at most ${estimate[key + '_max']:.4f})"


def fail_if_nothing_succeeded(requests: dict[str, Any], what: str) -> None:
    """A run whose every request failed exits non-zero (its stats are written first)."""
    from metamath.errors import AllRequestsFailed

    if requests["sent"] and not requests["succeeded"]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(requests["failed"].items()))
        raise AllRequestsFailed(f"all {requests['sent']} {what} requests failed ({reasons or 'no reason recorded'}); "
                                "the counts are in stats.json; re-running retries them")
