"""Prompts: training/inference templates and the teacher's 8-shot chat prompts."""

from metamath.prompts.templates import PAPER_STOP, chat_messages, inference_prompt, train_prompt
from metamath.prompts.teacher import (
    backward_messages, rephrase_messages, select_solve_shots, solve_messages, sv_rewrite_messages,
)

__all__ = [
    "PAPER_STOP", "backward_messages", "chat_messages", "inference_prompt", "rephrase_messages",
    "select_solve_shots", "solve_messages", "sv_rewrite_messages", "train_prompt",
]
