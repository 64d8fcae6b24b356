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
