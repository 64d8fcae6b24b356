"""A run's plan: requests, samples, what the store already holds, tokens, cost and time.

Shared by `augment --dry-run` and `evaluate --dry-run` (each builds its request groups exactly
as its run will, so keys and prompts are the real ones); this module only counts and prices.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from metamath.generation.budget import cost_usd

PLAN_FILE = "plan.json"


@dataclass
class PlanLine:
    """One round, method and stage. Token and cost figures cover what still has to be bought."""

    round: str
    method: str
    stage: str
    questions: int = 0
    requests: float = 0.0  # HTTP requests online: one per prompt with samples missing (n of them)
    samples: float = 0.0
    on_file: float = 0.0  # samples the store holds: free
    prompt_tokens: float = 0.0  # online: once per request
    batch_prompt_tokens: float = 0.0  # batch mode: once per sample (one request each)
    completion_expected: float = 0.0
    completion_max: float = 0.0
    estimated: bool = False  # counted through an assumed acceptance rate

    def count(self, prompt_tokens: int, samples: int, missing: int, expected: float, max_tokens: int,
              weight: float = 1.0) -> None:
        """A prompt asking `samples`, `missing` of them not on file; `weight` < 1 for a request
        that exists only if round 1 accepts its parent."""
        self.samples += samples * weight
        self.on_file += (samples - missing) * weight
        if missing:
            self.requests += weight
            self.prompt_tokens += prompt_tokens * weight
            self.batch_prompt_tokens += prompt_tokens * missing * weight
            self.completion_expected += expected * missing * weight
            self.completion_max += max_tokens * missing * weight


def line_costs(line: PlanLine, prices: dict[str, float], batch_discount: float) -> dict[str, float]:
    online = cost_usd(prices, line.prompt_tokens, line.completion_expected)
    online_max = cost_usd(prices, line.prompt_tokens, line.completion_max)
    batch = cost_usd(prices, line.batch_prompt_tokens, line.completion_expected) * batch_discount
    batch_max = cost_usd(prices, line.batch_prompt_tokens, line.completion_max) * batch_discount
    return {"online": online, "online_max": online_max, "batch": batch, "batch_max": batch_max}


def minutes_at_limits(requests: float, tokens: float, rpm: int | None, tpm: int | None) -> float | None:
    """The least time the rate limits allow (None when no limit is set)."""
    waits = [requests / rpm] if rpm else []
    waits += [tokens / tpm] if tpm else []
    return max(waits) if waits else None


def totals(lines: list[PlanLine], prices: dict[str, float], batch_discount: float, rpm: int | None,
           tpm: int | None) -> dict[str, Any]:
    summed = PlanLine("all", "all", "all")
    for line in lines:
        for name in ("requests", "samples", "on_file", "prompt_tokens", "batch_prompt_tokens", "completion_expected",
                     "completion_max"):
            setattr(summed, name, getattr(summed, name) + getattr(line, name))
    costs = line_costs(summed, prices, batch_discount)
    minutes = minutes_at_limits(summed.requests, summed.prompt_tokens + summed.completion_expected, rpm, tpm)
    return {"requests": round(summed.requests), "samples": round(summed.samples), "on_file": round(summed.on_file),
            "prompt_tokens": round(summed.prompt_tokens), "batch_prompt_tokens": round(summed.batch_prompt_tokens),
            "completion_tokens_expected": round(summed.completion_expected),
            "completion_tokens_max": round(summed.completion_max),
            "cost_usd": {k: round(v, 4) for k, v in costs.items()},
            "minutes_at_rate_limits": None if minutes is None else round(minutes, 1)}


def line_rows(lines: list[PlanLine], prices: dict[str, float], batch_discount: float) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        row = {k: (round(v) if isinstance(v, float) else v) for k, v in asdict(line).items()}
        row["cost_usd"] = {k: round(v, 4) for k, v in line_costs(line, prices, batch_discount).items()}
        out.append(row)
    return out


def plan_table(plan: dict[str, Any]):
    """The plan as a rich table (one row per round, method and stage, then the total)."""
    from rich.table import Table

    table = Table(title=plan["title"])
    for column in (*plan.get("labels", ("round", "method", "stage")), "questions", "requests", "samples", "on file (free)", "prompt tok",
                   "completion tok (exp / max)", "cost online", "cost batch"):
        table.add_column(column, justify="left" if column in ("round", "method", "stage") else "right")
    for row in plan["lines"]:
        table.add_row(row["round"] + (" *" if row["estimated"] else ""), row["method"], row["stage"],
                      f"{row['questions']:,}", f"{row['requests']:,}", f"{row['samples']:,}", f"{row['on_file']:,}",
                      f"{row['prompt_tokens']:,}", f"{row['completion_expected']:,} / {row['completion_max']:,}",
                      _usd(row["cost_usd"]["online"], row["cost_usd"]["online_max"]),
                      _usd(row["cost_usd"]["batch"], row["cost_usd"]["batch_max"]))
    t = plan["totals"]
    table.add_row("total", "", "", "", f"{t['requests']:,}", f"{t['samples']:,}", f"{t['on_file']:,}",
                  f"{t['prompt_tokens']:,}", f"{t['completion_tokens_expected']:,} / {t['completion_tokens_max']:,}",
                  _usd(t["cost_usd"]["online"], t["cost_usd"]["online_max"]),
                  _usd(t["cost_usd"]["batch"], t["cost_usd"]["batch_max"]), end_section=True)
    return table


def _usd(expected: float, most: float) -> str:
    return f"${expected:,.2f} (<= ${most:,.2f})"


def print_plan(plan: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(width=None if Console().is_terminal else 160)  # a log keeps every column
    console.print(plan_table(plan))
    for note in plan["notes"]:
        console.print(f"- {note}")


def write_plan(plan: dict[str, Any], folder: str) -> str:
    from metamath import storage

    path = storage.join(folder, PLAN_FILE)
    storage.write_text(path, json.dumps(plan, indent=2) + "\n")
    return path


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0
