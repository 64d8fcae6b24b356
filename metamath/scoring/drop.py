"""DROP's exact match and F1, with the normalisation of the official DROP evaluation
(allenai `drop_eval.py`, also used by simple-evals and lm-evaluation-harness):

- each answer is split on spaces and hyphens; every token is lower-cased, stripped of
  punctuation unless it is a number, written as a float when it is one (`12` = `12.000` =
  `1.2e1`), and stripped of articles;
- an answer made of several spans is a list of bags of tokens; exact match needs the same set
  and count of normalised spans; F1 aligns predicted and gold spans one to one (the best
  assignment), scores a pair 0 when the gold span has numbers and the predicted one shares none,
  and averages over max(#gold, #predicted) spans, rounded to 2 decimals;
- a question with several gold alternatives takes the best of each metric over them.
"""

from __future__ import annotations

import itertools
import math
import re
import string
from typing import Sequence, Union

from metamath.scoring.paper import is_number

Answer = Union[str, Sequence[str]]
_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
MAX_ASSIGNMENTS = 1_000_000  # DROP's answers have at most 8 spans (40,320 orders)


def _normalise_token(token: str) -> str:
    token = token.lower()
    if not is_number(token):
        token = "".join(ch for ch in token if ch not in _PUNCTUATION)
    if is_number(token):
        token = str(float(token))
    return " ".join(_ARTICLES.sub(" ", token).split())


def normalise_span(text: str) -> str:
    return " ".join(part for part in map(_normalise_token, re.split(" |-", text)) if part.strip()).strip()


def _bags(answer: Answer) -> tuple[list[str], list[set[str]]]:
    spans = [normalise_span(s) for s in ([answer] if isinstance(answer, str) else list(answer))]
    return spans, [set(span.split()) for span in spans]


def _f1(predicted: set[str], gold: set[str]) -> float:
    shared = len(predicted & gold)
    precision = shared / len(predicted) if predicted else 1.0
    recall = shared / len(gold) if gold else 1.0
    return 0.0 if precision == recall == 0.0 else 2 * precision * recall / (precision + recall)


def _numbers_agree(gold: set[str], predicted: set[str]) -> bool:
    gold_numbers = {t for t in gold if is_number(t)}
    return not gold_numbers or bool(gold_numbers & {t for t in predicted if is_number(t)})


def _aligned_f1(predicted: list[set[str]], gold: list[set[str]]) -> float:
    """Mean over max(#gold, #predicted) of the best one-to-one alignment's pair scores."""
    score = [[_f1(p, g) if _numbers_agree(g, p) else 0.0 for p in predicted] for g in gold]
    small, large = (len(gold), len(predicted)) if len(gold) <= len(predicted) else (len(predicted), len(gold))
    if math.perm(large, small) > MAX_ASSIGNMENTS:
        raise ValueError(f"{len(predicted)} predicted against {len(gold)} gold spans: too many to align exactly")
    best = 0.0
    for chosen in itertools.permutations(range(large), small):  # answers have a few spans at most
        pairs = zip(range(small), chosen) if len(gold) <= len(predicted) else zip(chosen, range(small))
        best = max(best, sum(score[g][p] for g, p in pairs))
    return best / max(len(gold), len(predicted))


def drop_metrics(predicted: Answer, gold: Answer) -> tuple[float, float]:
    """(exact match, F1) of one prediction against one gold answer (a span or a list of spans)."""
    predicted_spans, predicted_bags = _bags(predicted)
    gold_spans, gold_bags = _bags(gold)
    exact = float(set(predicted_spans) == set(gold_spans) and len(predicted_spans) == len(gold_spans))
    return exact, round(_aligned_f1(predicted_bags, gold_bags), 2)


def best_drop_metrics(predicted: Answer, alternatives: Sequence[Answer]) -> tuple[float, float]:
    """The best exact match and the best F1 over the gold alternatives (empty ones ignored)."""
    scored = [drop_metrics(predicted, gold) for gold in alternatives
              if (gold.strip() if isinstance(gold, str) else any(s.strip() for s in gold))]
    return (max(s[0] for s in scored), max(s[1] for s in scored)) if scored else (0.0, 0.0)
