"""Training and inference prompts (method doc sections 4 and 5), byte-exact.

Training, `paper`: the Alpaca no-input template; a query with a newline is split at its
first newline into instruction + input and rendered with the Alpaca with-input template,
as the reference `train_math.py` does. `uniform`: the no-input template for every row.
The response follows "### Response:" directly, then EOS.
Inference: the no-input template with " Let's think step by step." after "### Response:".
"""

from __future__ import annotations

PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:"
)
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
STEP_BY_STEP = " Let's think step by step."

# The paper's vLLM stop strings for evaluation.
PAPER_STOP = ["Question:", "Question", "USER:", "USER", "ASSISTANT:", "ASSISTANT",
              "Instruction:", "Instruction", "Response:", "Response"]


def train_prompt(query: str, template: str = "paper") -> str:
    """The prompt part of a training example (the response is appended directly)."""
    if template not in ("paper", "uniform"):
        raise ValueError(f"unknown template {template!r} (paper or uniform)")
    if template == "paper":
        # The reference: instruction = query.split('\n')[0], input = '\n'.join(split[1:]), and the
        # with-input template only when that input is non-empty. A query whose only newline ends
        # it (339 MATH training problems) gets the no-input template with its first line.
        instruction, _, extra = query.partition("\n")
        if extra:
            return PROMPT_WITH_INPUT.format(instruction=instruction, input=extra)
        return PROMPT_NO_INPUT.format(instruction=instruction)
    return PROMPT_NO_INPUT.format(instruction=query)


def inference_prompt(query: str) -> str:
    """MetaMath's zero-shot evaluation prompt."""
    return PROMPT_NO_INPUT.format(instruction=query) + STEP_BY_STEP


def chat_messages(query: str) -> list[dict[str, str]]:
    """For instruct models evaluated with their own chat template."""
    return [{"role": "user", "content": query}]
