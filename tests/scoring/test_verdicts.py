from metamath.scoring.verdicts import score_batch, score_one


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
