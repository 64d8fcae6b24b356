"""`metamath augment --dry-run`: the run's requests built exactly as the run builds them, looked
up in the response store, counted and priced; nothing is sent and nothing is written.

Round 2 depends on round 1's replies. Where a round-1 reply is already on file, its round-2
request is built from it exactly; otherwise it is counted with weight `augment.round2_acceptance`
(the share of rephrasings and SV rewrites expected to be usable) and marked as estimated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from metamath import storage
from metamath.augment.accounting import redact_url
from metamath.augment.tasks import AugmentContext, round1, round2
from metamath.config import MetaMathConfig
from metamath.data.benchmarks import Problem, load_benchmark
from metamath.masking import sv_query
from metamath.plan import PlanLine, line_rows, mean, totals
from metamath.prompts import backward_messages, select_solve_shots, solve_messages
from metamath.generation.requests import RequestGroup, make_group
from metamath.generation.cache.store import Store
from metamath.tokens import TokenCounter, token_counter

ANSWER_LINE_TOKENS = 8  # "The answer is: N" after a solution, which the data's own solutions lack


@dataclass
class Counting:
    ctx: AugmentContext
    counter: TokenCounter
    on_file: set[str]
    solution_tokens: float
    lines: dict[tuple[str, str, str], PlanLine]
    asked: dict[tuple[str, str, str], set[str]]  # the questions behind each line

    def line(self, round_name: str, meta: dict, estimated: bool = False) -> PlanLine:
        key = (round_name, meta["method"], meta["stage"])
        if key not in self.lines:
            self.lines[key] = PlanLine(round_name, meta["method"], meta["stage"], estimated=estimated)
        return self.lines[key]

    def expected(self, stage: str, messages: list[dict]) -> float:
        """A solve is about as long as the data's own solutions; a rephrasing or an SV statement
        about as long as the text it rewrites."""
        return self.solution_tokens if stage == "solve" else self.counter.text(messages[-1]["content"])

    def add(self, line: PlanLine, group: RequestGroup, source_id: str, weight: float = 1.0) -> None:
        asked = self.asked.setdefault((line.round, line.method, line.stage), set())
        if source_id not in asked:
            asked.add(source_id)
            line.questions += 1
        messages = json.loads(group.messages)
        missing = sum(k not in self.on_file for k in group.keys)
        line.count(self.counter.prompt(messages), len(group.keys), missing, self.expected(line.stage, messages),
                   self.ctx.teacher.max_tokens, weight)


def _solution_tokens(problems: list[Problem], counter: TokenCounter, configured: int | None) -> tuple[float, str]:
    if configured:
        return float(configured), f"teacher.expected_completion_tokens = {configured}"
    sample = problems[:2000]
    tokens = mean([counter.text(p.solution) for p in sample]) + ANSWER_LINE_TOKENS
    return tokens, f"{tokens:.0f} tokens per solve: the mean of {len(sample)} of the data's own solutions (+{ANSWER_LINE_TOKENS})"


def _round1(problems: list[Problem], counting: Counting) -> list[tuple[Problem, RequestGroup]]:
    """Counts round 1; returns its rephrase and SV-rewrite groups (round 2 builds on them)."""
    asks = []
    for problem in problems:
        groups, _ = round1(problem, counting.ctx)
        for group in groups:
            meta = json.loads(group.meta)
            counting.add(counting.line("round 1", meta), group, problem.id)
            if meta["stage"] != "solve":
                asks.append((problem, group))
    return asks


def _stand_in(problem: Problem, group: RequestGroup, meta: dict, ctx: AugmentContext) -> RequestGroup:
    """A round-2 request for a round-1 reply not yet on file: the original question stands in
    for its rephrasing; the rewrite's input for its SV statement."""
    aug, teacher = ctx.augment, ctx.teacher
    if meta["method"] == "rephrase":
        return make_group(teacher, solve_messages(problem.question, ctx.shots, aug.shots), aug.samples.rephrase_solve,
                          {**meta, "stage": "solve"})
    statement = json.loads(group.messages)[-1]["content"]
    query = sv_query(meta["body"], statement, ctx.variable)
    return make_group(teacher, backward_messages(ctx.dataset, query, "sv", aug.shots), aug.samples.sv,
                      {**meta, "stage": "solve"})


def _round2(asks: list[tuple[Problem, RequestGroup]], counting: Counting, store: Store) -> None:
    ask_keys = {k for _, group in asks for k in group.keys if k in counting.on_file}
    texts = store.texts_for(ask_keys) if ask_keys else {}
    acceptance = counting.ctx.augment.round2_acceptance
    for problem, group in asks:
        meta = json.loads(group.meta)
        for key, index in zip(group.keys, group.sample_indices):
            if key in texts:
                row = {"meta": group.meta, "status": "ok", "text": texts[key], "sample_index": index}
                solve, _ = round2(row, counting.ctx)
                if solve is not None:
                    counting.add(counting.line("round 2", {**meta, "stage": "solve"}), solve, problem.id)
                continue
            stand_in = _stand_in(problem, group, meta, counting.ctx)
            counting.add(counting.line("round 2", {**meta, "stage": "solve"}, estimated=True), stand_in, problem.id,
                         acceptance)


def plan_augment(cfg: MetaMathConfig) -> dict[str, Any]:
    aug, teacher = cfg.require("augment"), cfg.teacher
    train = load_benchmark(aug.dataset, "train", path=aug.data_path, root=cfg.data.root, on_malformed=cfg.data.on_malformed)
    problems = train.problems[: aug.limit] if aug.limit else train.problems
    ctx = AugmentContext(aug, teacher, select_solve_shots(train.problems, aug.seed))
    counter = token_counter(teacher.model, teacher.tokenizer)
    store = Store(storage.join(aug.output_dir, "responses"))
    solution_tokens, completion_note = _solution_tokens(problems, counter, teacher.expected_completion_tokens)
    counting = Counting(ctx, counter, store.ok_keys(), solution_tokens, {}, {})
    _round2(_round1(problems, counting), counting, store)
    lines = list(counting.lines.values())
    prices = dict(teacher.price_per_million)
    return {
        "kind": "augment", "title": f"augment {aug.dataset}: plan for {len(problems):,} questions (nothing sent)",
        "dataset": aug.dataset, "questions": len(problems), "methods": list(aug.methods),
        "teacher": {"backend": teacher.backend, "model": teacher.model, "base_url": redact_url(teacher.base_url),
                    "mode": teacher.mode, "max_tokens": teacher.max_tokens},
        "price_per_million": prices, "batch_discount": teacher.batch_discount,
        "tokenizer": counter.method, "completion_estimate": completion_note,
        "round2_acceptance": aug.round2_acceptance,
        "lines": line_rows(lines, prices, teacher.batch_discount),
        "totals": totals(lines, prices, teacher.batch_discount, teacher.requests_per_minute, teacher.tokens_per_minute),
        "notes": _notes(counter, completion_note, aug.round2_acceptance, teacher, prices),
    }


def _notes(counter: TokenCounter, completion_note: str, acceptance: float, teacher, prices: dict) -> list[str]:
    notes = [f"prompt tokens: {counter.method}", f"completion tokens expected: {completion_note}; "
             f"at most teacher.max_tokens = {teacher.max_tokens} per sample",
             f"round 2 (*): requests whose round-1 reply is not on file yet are counted at "
             f"augment.round2_acceptance = {acceptance} (the share of rephrasings and rewrites expected to be usable)",
             "on file: samples the response store already holds; they are not bought again"]
    if not prices:
        notes.append("no teacher.price_per_million: costs are 0")
    if teacher.requests_per_minute or teacher.tokens_per_minute:
        notes.append("time: the least the rate limits allow (requests_per_minute, tokens_per_minute)")
    return notes
