from metamath.scoring.verdicts import score_batch, score_one
from hypothesis import given, settings
from hypothesis import strategies as st


def test_parallel_and_serial_agree():
    pairs = [(f"The answer is: {i % 7}", str(i % 5)) for i in range(300)]
    serial = score_batch("gsm8k", pairs, workers=1)
    parallel = score_batch("gsm8k", pairs, workers=2)
    assert serial == parallel
    assert sum(v.paper_correct for v in serial) == sum(i % 7 == i % 5 for i in range(300))


def test_score_one_reports_both():
    verdict = score_one("gsm8k", "The answer is: 8.6", "9")
    assert verdict.paper_correct and not verdict.strict_correct
    assert verdict.paper_answer == "9" and verdict.strict_answer == "8.6"


def test_a_completion_that_breaks_a_scorer_is_no_answer_not_a_crash():
    verdict = score_one("gsm8k", "So the total is 5. The answer is: 5/00", "5")
    assert verdict.paper_answer is None and not verdict.paper_correct
    assert verdict.scoring_error and "ZeroDivisionError" in verdict.scoring_error
    assert verdict.strict_answer is not None or verdict.strict_correct is False  # the other scorer still ran


_ANSWERS = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[-+]?\d{0,4}[./,]?\d{0,4}/?[0-9]{0,3}", fullmatch=True),
    st.from_regex(r"\\\\(frac|sqrt|boxed|text|dfrac)\{[0-9a-z{}/.^ -]{0,12}\}?\{?[0-9]{0,3}\}?", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(answer=_ANSWERS, benchmark=st.sampled_from(["gsm8k", "gsm8k_backward", "math", "math500"]),
       marker=st.sampled_from(["The answer is: ", "The answer is ", "#### ", "\\boxed{", ""]))
def test_fuzzed_completions_never_raise_out_of_score_one(answer, benchmark, marker):
    # Both scorers' extractors on arbitrary tails: '5/00' once crashed a whole run.
    verdict = score_one(benchmark, f"Step one.\n{marker}{answer}", "5")
    assert isinstance(verdict.paper_correct, bool) and isinstance(verdict.strict_correct, bool)
