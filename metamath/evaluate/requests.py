"""Benchmark problems -> decoding requests, one per problem, through the teacher runner.

`evaluate.prompt: paper` renders MetaMath's inference prompt byte for byte (the Alpaca
no-input template plus " Let's think step by step.") and sends it raw (completions API,
no chat template); `chat` sends the question as one user message with the model's own
chat template. Decoding is greedy; the paper's stop strings apply to the paper prompt.
"""

from __future__ import annotations

from metamath.config.schema import EngineConfig, EvaluateConfig, TeacherConfig
from metamath.data.benchmarks import Problem
from metamath.prompts.templates import PAPER_STOP, chat_messages, inference_prompt
from metamath.generation.requests import RequestGroup, make_group


def render(problem: Problem, prompt: str) -> str | list[dict[str, str]]:
    return inference_prompt(problem.question) if prompt == "paper" else chat_messages(problem.question)


def decoder_config(cfg: EvaluateConfig, benchmark: str, sampled: bool = False) -> TeacherConfig:
    """The evaluate section as the shared client's config, for one benchmark's max tokens:
    greedy, or (`sampled`, for maj@k / pass@k) at the section's temperature and top_p. Every
    engine key is taken as it is (EngineConfig), so none is left behind."""
    engine = cfg.model_dump(include=set(EngineConfig.model_fields))
    stop = cfg.stop if cfg.stop is not None else (PAPER_STOP if cfg.prompt == "paper" else None)
    return TeacherConfig(**{**engine, "stop": stop or None}, max_tokens=cfg.max_tokens.get(benchmark, 512),
                         temperature=cfg.temperature if sampled else 0.0, top_p=cfg.top_p if sampled else 1.0)


def problem_groups(problems: list[Problem], cfg: EvaluateConfig, decoder: TeacherConfig) -> list[RequestGroup]:
    return [make_group(decoder, render(p, cfg.prompt), 1, {"id": p.id}) for p in problems]


def problem_group(row: dict, cfg: EvaluateConfig, decoder: TeacherConfig, samples: int = 1) -> dict:
    """Ray Data `map` body: a benchmark item (with its position) -> one request group. The meta
    carries what scoring needs; it is not part of the request, so it never changes a key."""
    problem = Problem(**{name: row.get(name) for name in Problem.__dataclass_fields__})
    meta = {"id": problem.id, "index": int(row["index"]), "question": problem.question, "gold": problem.gold,
            "subject": problem.subject, "level": problem.level}
    return make_group(decoder, render(problem, cfg.prompt), samples, meta).to_row()
