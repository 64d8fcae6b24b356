"""The plan and the budget of an API teacher, on the SCRIPTED server (a stand-in, not a model)
whose solves reply with the data's own solutions and whose usage is counted with the embedded
model's tokenizer, so every reply's token counts are known."""

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from metamath.augment.job import run_augment
from metamath.config.loader import validate_config
from metamath.errors import BudgetReached
from tests.augment.conftest import augment_config, oracle

pytestmark = pytest.mark.slow

PRICES = {"prompt": 0.5, "completion": 1.5}  # configs/augment-gsm8k-paper.yaml's
TOKENIZER = "smollm2-135m-instruct"  # the plan counts with it; the server reports usage with it


def _script(log: Path, **extra) -> dict:
    from metamath.data import load_benchmark
    from metamath.models import resolve_model

    problems = load_benchmark("gsm8k", "train", limit=6).problems
    return {"answers": oracle(), "solutions": {p.question: p.solution.split("####")[0].strip() for p in problems},
            "tokenizer": resolve_model(TOKENIZER, tokenizer_only=True), "log_path": str(log), **extra}


def _config(out, url, **teacher):
    return validate_config(augment_config(out, url, model=TOKENIZER, price_per_million=PRICES, **teacher), "spend")


def _keys_sent(log: Path) -> Counter:
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    online = [k for e in entries if "keys" in e and isinstance(e["keys"], str) for k in e["keys"].split(",") if k]
    batch = [e["key"] for e in entries if e.get("event") == "batch_line"]
    return Counter(online + batch)


def test_a_dry_run_sends_nothing_writes_nothing_and_prices_the_plan(ray_local, scripted, tmp_path):
    from typer.testing import CliRunner

    from metamath.cli import app

    log = tmp_path / "server.jsonl"
    server = scripted(**_script(log))
    out = tmp_path / "out"
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(augment_config(out, server.base_url, model=TOKENIZER, price_per_million=PRICES)))
    result = CliRunner().invoke(app, ["augment", "--config", str(config), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert not _keys_sent(log) and not out.exists()
    methods = {(line["round"], line["method"], line["stage"]) for line in plan["lines"]}
    assert {("round 1", "ansaug", "solve"), ("round 1", "rephrase", "ask"), ("round 1", "sv", "rewrite"),
            ("round 1", "fobar", "solve"), ("round 2", "rephrase", "solve"), ("round 2", "sv", "solve")} == methods
    assert plan["tokenizer"].startswith(f"tokenizer of {TOKENIZER}") and plan["totals"]["on_file"] == 0
    costs = plan["totals"]["cost_usd"]
    assert 0 < costs["batch"] == pytest.approx(costs["online"] * 0.5, rel=0.35) and costs["online"] < costs["online_max"]
    table = CliRunner().invoke(app, ["augment", "--config", str(config), "--dry-run"], terminal_width=200)
    assert table.exit_code == 0 and "round 2 *" in table.output and "round2_acceptance" in table.output


def test_a_cap_stops_the_run_a_raised_cap_finishes_it_and_the_plan_was_within_15_percent(ray_local, scripted,
                                                                                          tmp_path, capsys):
    """Online: a cap at 40% of the plan stops the run (exit code 3 from the CLI; here the
    exception), spent <= cap; the same command with a raised cap finishes buying nothing twice;
    and what both runs paid together is within 15% of the plan made before the first."""
    from metamath.augment.plan import plan_augment

    log = tmp_path / "server.jsonl"
    server = scripted(**_script(log))
    out = tmp_path / "out"
    planned = plan_augment(_config(out, server.base_url))["totals"]
    cap = round(planned["cost_usd"]["online"] * 0.4, 6)
    with pytest.raises(BudgetReached) as stopped:
        run_augment(_config(out, server.base_url, max_cost_usd=cap))
    stats = json.loads((out / "stats.json").read_text())
    assert stats["complete"] is False and 0 < stats["budget"]["spent_usd"] <= cap
    assert stats["requests"]["not_sent_over_budget"] > 0 and stats["budget"]["samples_not_sent"] > 0
    assert "teacher.max_cost_usd=" in str(stopped.value) and f"{stats['budget']['spent_usd']:.4f}" in str(stopped.value)
    assert json.loads((out / "plan.json").read_text())["totals"] == planned  # written before the first request
    first = _keys_sent(log)
    assert first and max(first.values()) == 1
    finished = run_augment(_config(out, server.base_url, max_cost_usd=cap * 10))
    sent = _keys_sent(log)
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1]  # nothing bought twice
    assert finished["rows"] > 0 and finished["requests"]["served_from_cache"] >= sum(first.values())
    paid = stats["cost"]["this_run"] + finished["cost"]["this_run"]
    error = abs(planned["cost_usd"]["online"] - paid) / paid
    assert "planned $" in capsys.readouterr().out  # the closing summary shows the plan beside the cost
    with capsys.disabled():
        print(f"\n[spend] plan ${planned['cost_usd']['online']:.6f} vs paid ${paid:.6f} ({error:.1%} off; tokenizer "
              f"{TOKENIZER}); requests planned {planned['requests']}, sent {stats['requests']['sent']} + "
              f"{finished['requests']['sent']}; cap ${cap:.6f}, spent ${stats['budget']['spent_usd']:.6f} before the stop")
    assert error <= 0.15
