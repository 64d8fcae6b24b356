"""Spending on an API teacher: the plan before the first request, and the stop at the budget.

With the `openai` backend every run first writes its plan (`plan.json`, the same figures as
`--dry-run`), and `stats.json` puts the plan's estimate beside what was paid. When the run
reaches `teacher.max_cost_usd` or `teacher.max_requests`, nothing more is sent; the requests in
flight come back and are stored, `stats.json` says what was spent, and the command exits with
code 3 and the command that continues (what is stored is never bought again).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from typing import Any

from metamath import storage
from metamath.augment.accounting import redact_url, request_totals
from metamath.config import MetaMathConfig
from metamath.errors import BudgetReached


def plan_before_paying(cfg: MetaMathConfig) -> dict[str, Any] | None:
    """The plan's cost estimate (online and batch), after writing plan.json; None for local backends."""
    from metamath.augment.plan import plan_augment
    from metamath.plan import write_plan

    if cfg.teacher.backend != "openai":
        return None
    plan = plan_augment(cfg)
    path = write_plan(plan, cfg.augment.output_dir)
    totals = plan["totals"]
    mode = cfg.teacher.mode
    print(f"[augment] plan: {totals['requests']:,} requests, {totals['samples'] - totals['on_file']:,} samples to buy "
          f"({totals['on_file']:,} on file), est. ${totals['cost_usd'][mode if mode == 'batch' else 'online']:.4f} "
          f"{mode} ({path})", flush=True)
    return {"mode": mode, **totals["cost_usd"], "tokenizer": plan["tokenizer"]}


def resume_command(raised: dict[str, str]) -> str:
    """This command again, with the caps in `raised` (dotted key -> value) raised."""
    program = "metamath" if sys.argv[0].endswith(("metamath", "__main__.py")) else f"python {sys.argv[0]}"
    args = [a for a in sys.argv[1:] if a.split("=", 1)[0] not in raised]
    return " ".join([program, *map(shlex.quote, args), *(f"{k}={v}" for k, v in raised.items())])


def stop_at_budget(cfg: MetaMathConfig, rounds: list, n_questions: int, started: float,
                   estimate: dict[str, Any] | None) -> None:
    """Write stats.json for a run the budget stopped, then raise BudgetReached."""
    teacher = cfg.teacher
    requests, cost = request_totals([r.run for r in rounds], teacher, estimate)
    not_sent = sum(r.run.over_budget for r in rounds)
    budget = {"max_cost_usd": teacher.max_cost_usd, "max_requests": teacher.max_requests,
              "spent_usd": cost["this_run"], "requests_sent": requests["sent"], "samples_not_sent": not_sent}
    stats = {"dataset": cfg.augment.dataset, "questions": n_questions, "complete": False, "stopped_by": "budget",
             "budget": budget, "teacher": {"backend": teacher.backend, "model": teacher.model,
                                           "base_url": redact_url(teacher.base_url)},
             "requests": requests, "cost": cost, "elapsed_s": round(time.time() - started, 1)}
    storage.write_text(storage.join(cfg.augment.output_dir, "stats.json"), json.dumps(stats, indent=2) + "\n")
    cap, most, raised, caps = teacher.max_cost_usd, teacher.max_requests, {}, []
    if cap is not None:
        raised["teacher.max_cost_usd"] = f"{max(2 * cap, round(1.2 * (estimate or {}).get('online', 0.0), 2)):g}"
        caps.append(f"${cap:g} (teacher.max_cost_usd)")
    if most is not None:
        raised["teacher.max_requests"] = str(2 * most)
        caps.append(f"{most} requests (teacher.max_requests)")
    raise BudgetReached(
        f"spent ${cost['this_run']:.4f} in {requests['sent']} requests against a cap of {' and '.join(caps)}; {not_sent} samples "
        f"were not sent, every reply that came back is stored (stats.json written). Continue with: "
        f"{resume_command(raised)}")
