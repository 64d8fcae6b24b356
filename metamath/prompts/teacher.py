"""Teacher prompts (solve, rephrase, SV rewrite, SV solve, FOBAR solve), 8-shot chat messages.

Forward-solve shots are drawn from the training split with a fixed seed (never a test split)
and never include the question being asked. Rephrase and backward shots are our own, in
exemplars/*.yaml.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from importlib import resources
from typing import Sequence

import yaml

from metamath.data.benchmarks import Problem
from metamath.masking.backward import fobar_query, split_question_sentence, sv_query, sv_rewrite_input

Messages = list[dict[str, str]]
N_SHOTS = 8
MAX_SHOT_CHARS = 900  # keeps MATH prompts within small teachers' context

SYSTEM = {
    "solve": "You are an expert math teacher. Solve the problem step by step, then finish with a line "
             "of the form 'The answer is: <answer>'.",
    "backward": "You are an expert math teacher. The problem has an unknown variable. Use the information "
                "given to solve for it step by step, then finish with 'The value of {var} is <value>.'",
    "rephrase": "Rephrase the math question in different words. Keep every number, condition and the answer "
                "the same. Reply with the rephrased question only.",
    "sv_rewrite": "Rewrite the question and its answer as a single declarative statement. Keep every number "
                  "and variable as written. Reply with the statement only.",
}


@lru_cache(maxsize=None)
def exemplars(dataset: str) -> dict:
    text = resources.files("metamath.prompts").joinpath("exemplars", f"{dataset}.yaml").read_text()
    return yaml.safe_load(text)


def _chat(system: str, shots: Sequence[tuple[str, str]], question: str) -> Messages:
    messages: Messages = [{"role": "system", "content": system}]
    for user, assistant in shots:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages + [{"role": "user", "content": question}]


def _shot_solution(problem: Problem) -> str:
    """A training solution as a teacher answer: GSM8K calculator marks removed,
    '#### N' replaced by the answer line."""
    text = re.sub(r"<<[^>]*>>", "", problem.solution)
    text = re.sub(r"\n?####[^\n]*$", "", text.strip()).rstrip()
    return f"{text}\nThe answer is: {problem.gold}"


def select_solve_shots(train: Sequence[Problem], seed: int = 0, k: int = N_SHOTS) -> list[Problem]:
    """k + 1 short, figure-free training problems chosen with `seed` (one spare, see solve_messages)."""
    pool = [p for p in train if p.gold and "[asy]" not in p.question
            and len(p.question) + len(p.solution) <= MAX_SHOT_CHARS]
    return random.Random(seed).sample(pool, min(k + 1, len(pool)))


def solve_messages(question: str, shots: Sequence[Problem], k: int = N_SHOTS) -> Messages:
    """AnsAug and rephrased-question solves. The asked question is never its own shot."""
    chosen = [p for p in shots if p.question.strip() != question.strip()][:k]
    return _chat(SYSTEM["solve"], [(p.question, _shot_solution(p)) for p in chosen], question)


def rephrase_messages(dataset: str, question: str, k: int = N_SHOTS) -> Messages:
    shots = [(s["original"], s["rephrased"]) for s in exemplars(dataset)["rephrase"][:k]]
    return _chat(SYSTEM["rephrase"], shots, question)


def sv_rewrite_messages(dataset: str, question_sentence: str, answer: str, k: int = N_SHOTS) -> Messages:
    shots = []
    for s in exemplars(dataset)["backward"][:k]:
        shots.append((sv_rewrite_input(split_question_sentence(s["masked"])[1], s["answer"]), s["statement"]))
    return _chat(SYSTEM["sv_rewrite"], shots, sv_rewrite_input(question_sentence, answer))


def _variable(dataset: str) -> str:
    return "x" if dataset == "gsm8k" else "X"


def backward_shot_query(dataset: str, shot: dict, style: str, fobar_form: str = "plain") -> str:
    var = _variable(dataset)
    if style == "fobar":
        return fobar_query(shot["masked"], shot["answer"], var, fobar_form)
    body, _ = split_question_sentence(shot["masked"])
    return sv_query(body, shot["statement"], var)


def backward_messages(dataset: str, query: str, style: str, k: int = N_SHOTS, fobar_form: str = "plain") -> Messages:
    """Solve an SV (`style='sv'`) or FOBAR (`style='fobar'`) question for the unknown; the FOBAR
    shots are written in the same form as the question."""
    shots = [(backward_shot_query(dataset, s, style, fobar_form), s["solution"])
             for s in exemplars(dataset)["backward"][:k]]
    return _chat(SYSTEM["backward"].format(var=_variable(dataset)), shots, query)


def clean_single_line_reply(text: str) -> str:
    """Rephrase / SV-rewrite replies: drop a leading label and surrounding quotes."""
    text = text.strip().split("\n\n")[0].strip()
    text = re.sub(r"^(?:rephrased question|rephrased|question|statement)\s*:\s*", "", text, flags=re.I)
    return text.strip().strip('"').strip()
