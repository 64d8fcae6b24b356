"""`metamath evaluate --dry-run`: the decoding requests of every benchmark, built as the run
builds them, looked up in the evaluation's response store, counted and priced (openai backend)."""

from __future__ import annotations

from typing import Any

from metamath import storage
from metamath.config import MetaMathConfig
from metamath.config.schema import EvaluateConfig
from metamath.data.benchmarks import load_benchmark
from metamath.evaluate.requests import decoder_config, render
from metamath.plan import PlanLine, line_rows, mean, totals
from metamath.generation.requests import make_group
from metamath.generation.cache.store import Store
from metamath.tokens import TokenCounter, token_counter


def _benchmark_lines(cfg: EvaluateConfig, benchmark: str, root: str | None, on_malformed: str,
                     counter: TokenCounter, on_file: set[str]) -> tuple[list[PlanLine], str]:
    loaded = load_benchmark(benchmark, "test", path=cfg.data_paths.get(benchmark), root=root,
                            on_malformed=on_malformed, limit=cfg.limit)
    problems = loaded.problems
    solutions = [counter.text(p.solution) for p in problems if p.solution]
    greedy = decoder_config(cfg, benchmark)
    expected = mean(solutions) if solutions else greedy.max_tokens / 2
    how = (f"{benchmark}: {expected:.0f} tokens, the mean of its {len(solutions)} reference solutions" if solutions
           else f"{benchmark}: no reference solutions, half of max_tokens ({expected:.0f})")
    runs = [("greedy", greedy, 1)] + ([("sampled", decoder_config(cfg, benchmark, sampled=True), cfg.samples)]
                                      if cfg.samples > 1 else [])
    lines = []
    for name, decoder, samples in runs:
        line = PlanLine(benchmark, cfg.model, name, questions=len(problems))
        for problem in problems:
            group = make_group(decoder, render(problem, cfg.prompt), samples, {"id": problem.id})
            messages = render(problem, cfg.prompt)
            missing = sum(k not in on_file for k in group.keys)
            line.count(counter.prompt(messages), samples, missing, expected, decoder.max_tokens)
        lines.append(line)
    return lines, how


def plan_evaluate(cfg: MetaMathConfig) -> dict[str, Any]:
    ecfg: EvaluateConfig = cfg.require("evaluate")
    counter = token_counter(ecfg.model, ecfg.tokenizer)
    on_file = Store(storage.join(ecfg.output_dir, "responses")).ok_keys()
    lines, notes = [], [f"prompt tokens: {counter.method}"]
    for benchmark in ecfg.benchmarks:
        found, how = _benchmark_lines(ecfg, benchmark, ecfg.data_dir or cfg.data.root, cfg.data.on_malformed,
                                      counter, on_file)
        lines += found
        notes.append(f"completion tokens expected for {how}")
    prices = dict(ecfg.price_per_million)
    if ecfg.backend != "openai":
        notes.append(f"backend {ecfg.backend}: local decoding, no API cost")
        prices = {}
    elif not prices:
        notes.append("no evaluate.price_per_million: costs are 0")
    notes.append("on file: completions the evaluation's response store already holds; they are not decoded again")
    return {"kind": "evaluate", "labels": ("benchmark", "model", "decode"), "title": f"evaluate {ecfg.model} ({ecfg.backend}): plan (nothing sent)",
            "model": ecfg.model, "backend": ecfg.backend, "benchmarks": list(ecfg.benchmarks),
            "tokenizer": counter.method, "price_per_million": prices,
            "lines": line_rows(lines, prices, 1.0),
            "totals": totals(lines, prices, 1.0, ecfg.requests_per_minute, ecfg.tokens_per_minute), "notes": notes}
