"""MATH FOBAR questions against the reference code's own output
(tests/fixtures/reference/math_fobar.json: BackwardReasoning's FOBAR text for MATH problems
masked by the reference, every one whose problem ends in a newline among them)."""

import hashlib
import json
from pathlib import Path

from metamath.masking import fobar_query, math_masks

ORACLE = Path(__file__).parents[1] / "fixtures" / "reference" / "math_fobar.json"


def test_math_fobar_text_is_byte_identical_to_the_reference(data_root):
    from metamath.data import load_benchmark

    questions = {p.id: p.question for p in load_benchmark("math", "train").problems}
    items = json.loads(ORACLE.read_text())["items"]
    ending_in_newline = 0
    for item in items:
        tokens = questions[item["id"]].split(" ")
        tokens[item["token"]] = item["replacement"]
        masked = " ".join(tokens)
        ours = fobar_query(masked, item["answer"], "X", "reference")
        assert ours == masked + item["query_tail"], item["id"]
        assert hashlib.sha256(ours.encode()).hexdigest() == item["query_sha256"], item["id"]
        ending_in_newline += masked.endswith("\n")
    assert ending_in_newline > 250


def test_our_masks_keep_the_problem_s_trailing_newline(data_root):
    from metamath.data import load_benchmark

    problems = [p for p in load_benchmark("math", "train").problems if p.question.endswith("\n")]
    masks = [m for p in problems[:100] for m in math_masks(p.question)]
    assert masks and all(m.masked.endswith("\n") for m in masks)
    query = fobar_query(masks[0].masked, "5", "X", "reference")
    assert "\n\n### If we know" in query
