"""Metrics over k sampled completions per item: maj@k and pass@k.

- maj@k: the answers extracted from the k samples vote; answers that the scorer calls equal
  (`same`) count as one, completions with no answer do not vote, and a tie goes to the
  answer seen first. The item is right when the winner is right.
- pass@k: the unbiased estimator of Chen et al. (2021) from n samples of which c are right,
  1 - C(n-c, k) / C(n, k), computed as a product so that large n stays exact in floats.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence


def pass_at_k(n: int, correct: int, k: int) -> float:
    if not 0 <= correct <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={correct}, k={k})")
    if n - correct < k:
        return 1.0
    missing_all = 1.0
    for i in range(n - correct + 1, n + 1):
        missing_all *= 1.0 - k / i
    return 1.0 - missing_all


def majority_answer(answers: Sequence[Optional[str]], same: Callable[[str, str], bool]) -> Optional[str]:
    """The answer most samples agree on (first seen wins a tie); None when no sample answered."""
    clusters: list[list[str]] = []
    for answer in answers:
        if answer is None:
            continue
        home = next((c for c in clusters if same(c[0], answer)), None)
        if home is None:
            clusters.append([answer])
        else:
            home.append(answer)
    if not clusters:
        return None
    return max(clusters, key=len)[0]  # max keeps the first of equal sizes


def sample_metrics(answers: Sequence[Optional[str]], correct: Sequence[bool], k: int,
                   same: Callable[[str, str], bool], is_right: Callable[[str], bool]) -> dict[str, float]:
    """{maj@k, pass@k} for one item from its n >= k samples (answers and verdicts in order):
    maj@k votes over the first k samples, pass@k uses all n."""
    if len(answers) != len(correct) or len(answers) < k:
        raise ValueError(f"{len(answers)} answers and {len(correct)} verdicts for k={k}")
    winner = majority_answer(answers[:k], same)
    return {f"maj@{k}": float(winner is not None and is_right(winner)),
            f"pass@{k}": pass_at_k(len(correct), sum(map(bool, correct)), k)}


def answer_equality(benchmark: str, scorer: str) -> Callable[[str, str], bool]:
    """When two extracted answers vote together, under each scorer's own notion of equality:
    `paper` compares what its rules compare (rounded numbers, Hendrycks-normalised strings, DROP's
    normalised spans); `strict` asks math-verify, as it does against a gold."""
    from metamath.data.ood import WORD_PROBLEMS
    from metamath.scoring.drop import normalise_span

    if benchmark == "drop":
        return lambda a, b: normalise_span(a) == normalise_span(b)
    if scorer == "strict":
        from metamath.scoring.strict import equivalent

        return lambda a, b: equivalent(benchmark, a, b)
    if benchmark in ("gsm8k", "gsm8k_backward"):
        return lambda a, b: a == b  # the paper rule's answers are rounded integers as text
    if benchmark in WORD_PROBLEMS:
        from metamath.scoring.ood import word_answers_agree

        return word_answers_agree
    from metamath.scoring.hendrycks import is_equiv

    return is_equiv

