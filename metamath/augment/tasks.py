"""Teacher request groups for each method. Round 1 needs only the question; round 2 needs a
round-1 reply (a rephrasing to solve, an SV statement to build the query from)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Iterator

from metamath.config import AugmentConfig, TeacherConfig
from metamath.data.benchmarks import Problem
from metamath.masking import fobar_form, fobar_query, is_plain_number, mask_candidates, split_question_sentence, sv_query, sv_rejection
from metamath.prompts import backward_messages, rephrase_messages, solve_messages, sv_rewrite_messages
from metamath.prompts.teacher import clean_single_line_reply
from metamath.generation.requests import RequestGroup, make_group


@dataclass
class AugmentContext:
    augment: AugmentConfig
    teacher: TeacherConfig
    shots: list[Problem]
    submit_only: bool = False  # `augment --submit-only` (a flag of the command, not a config key)

    @property
    def dataset(self) -> str:
        return self.augment.dataset

    @property
    def variable(self) -> str:
        return "x" if self.dataset == "gsm8k" else "X"

    def with_teacher(self, teacher: TeacherConfig) -> "AugmentContext":
        """The same context for a later round whose teacher config differs (its budget left)."""
        return AugmentContext(self.augment, teacher, self.shots, self.submit_only)


def _meta(problem: Problem, method: str, stage: str, **extra: Any) -> dict[str, Any]:
    return {"method": method, "stage": stage, "source_id": problem.id, "original_question": problem.question,
            "gold": problem.gold, "line": problem.line, **extra}


def chosen_masks(problem: Problem, ctx: AugmentContext) -> tuple[list, str | None]:
    """(masks, why none). Every candidate is eligible; `masks_per_question` are drawn with a
    seed derived from the question id, so re-runs draw the same ones."""
    if ctx.dataset == "math" and not is_plain_number(problem.gold):
        return [], "answer_not_plain_number"
    candidates = mask_candidates(ctx.dataset, problem.question, ctx.augment.masking)
    if not candidates:
        return [], "no_mask_candidate"
    rng = random.Random(f"{ctx.augment.seed}:{problem.id}")
    picked = rng.sample(candidates, min(ctx.augment.samples.masks_per_question, len(candidates)))
    return sorted(picked, key=lambda m: m.start), None


def round1(problem: Problem, ctx: AugmentContext) -> tuple[list[RequestGroup], list[dict]]:
    """(groups, pre-teacher drops as {method, reason})."""
    aug, t, q = ctx.augment, ctx.teacher, problem.question
    groups, drops = [], []
    if "ansaug" in aug.methods:
        groups.append(make_group(t, solve_messages(q, ctx.shots, aug.shots), aug.samples.ansaug,
                                 _meta(problem, "ansaug", "solve", query=q)))
    if "rephrase" in aug.methods:
        groups.append(make_group(t, rephrase_messages(ctx.dataset, q, aug.shots), aug.samples.rephrase,
                                 _meta(problem, "rephrase", "ask")))
    backward = [m for m in ("sv", "fobar") if m in aug.methods]
    if not backward:
        return groups, drops
    masks, why = chosen_masks(problem, ctx)
    drops += [{"method": m, "reason": why} for m in backward if why]
    for mask in masks:
        if "sv" in backward:
            body, sentence = split_question_sentence(mask.masked)
            groups.append(make_group(t, sv_rewrite_messages(ctx.dataset, sentence, problem.gold, aug.shots), 1,
                                     _meta(problem, "sv", "rewrite", value=mask.value, body=body)))
        if "fobar" in backward:
            form = fobar_form(ctx.dataset, aug.fobar_math_form)
            query = fobar_query(mask.masked, problem.gold, ctx.variable, form)
            groups.append(make_group(t, backward_messages(ctx.dataset, query, "fobar", aug.shots, form),
                                     aug.samples.fobar,
                                     _meta(problem, "fobar", "solve", query=query, value=mask.value)))
    return groups, drops


def _usable_rephrasing(text: str, original: str) -> bool:
    return len(text) >= 10 and text.strip() != original.strip() and "\n" not in text


def round2(row: dict[str, Any], ctx: AugmentContext) -> tuple[RequestGroup | None, dict | None]:
    """A round-1 'ask' or 'rewrite' reply -> (solve group, None) or (None, drop)."""
    meta = json.loads(row["meta"])
    method = meta["method"]
    if row["status"] != "ok":
        return None, {"method": method, "reason": "request_failed"}
    reply = clean_single_line_reply(row["text"] or "")
    aug, t = ctx.augment, ctx.teacher
    extra = {k: meta[k] for k in ("source_id", "original_question", "gold", "line")}
    if method == "rephrase":
        if not _usable_rephrasing(reply, meta["original_question"]):
            return None, {"method": method, "reason": "bad_rephrasing"}
        # Sample indices continue per parent rephrasing, so two identical rephrasings still ask
        # for distinct samples (distinct keys) instead of the same request twice.
        parent = int(row["sample_index"])
        return make_group(t, solve_messages(reply, ctx.shots, aug.shots), aug.samples.rephrase_solve,
                          {**extra, "method": "rephrase", "stage": "solve", "query": reply, "parent_index": parent},
                          first_index=parent * aug.samples.rephrase_solve), None
    query = sv_query(meta["body"], reply, ctx.variable)
    reason = sv_rejection(query, reply, meta["value"], meta["gold"], ctx.variable)
    if reason:
        return None, {"method": method, "reason": reason}
    return make_group(t, backward_messages(ctx.dataset, query, "sv", aug.shots), aug.samples.sv,
                      {**extra, "method": "sv", "stage": "solve", "query": query, "value": meta["value"]}), None


# Ray Data flat_map bodies: request groups and pre-teacher drops come from the same functions,
# in separate passes (drops are counted, never carried along with the requests).

def round1_groups(row: dict[str, Any], ctx: AugmentContext) -> Iterator[dict[str, Any]]:
    groups, _ = round1(_problem(row), ctx)
    yield from (g.to_row() for g in groups)


def round1_drops(row: dict[str, Any], ctx: AugmentContext) -> Iterator[dict[str, Any]]:
    _, drops = round1(_problem(row), ctx)
    yield from drops


def round2_groups(row: dict[str, Any], ctx: AugmentContext) -> Iterator[dict[str, Any]]:
    group, _ = round2(row, ctx)
    if group is not None:
        yield group.to_row()


def round2_drops(row: dict[str, Any], ctx: AugmentContext) -> Iterator[dict[str, Any]]:
    _, drop = round2(row, ctx)
    if drop is not None:
        yield drop


def _problem(row: dict[str, Any]) -> Problem:
    return Problem(**{name: row.get(name) for name in Problem.__dataclass_fields__})
