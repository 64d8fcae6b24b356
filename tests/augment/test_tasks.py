import json

from metamath.augment.tasks import AugmentContext, chosen_masks, round1, round2
from metamath.config import AugmentConfig, TeacherConfig
from metamath.data.benchmarks import Problem

Q = "Tom has 5 apples and buys 7 more at $2 each. How many apples does he have now?"
P = Problem("gsm8k/train/abc", "gsm8k", Q, "12", "5 + 7 = 12\n#### 12", line=3)
SHOTS = [Problem(f"s{i}", "gsm8k", f"Shot {i}?", str(i), f"{i}\n#### {i}") for i in range(9)]


def ctx(**aug):
    return AugmentContext(AugmentConfig(dataset="gsm8k", **aug), TeacherConfig(), SHOTS)


def test_round1_groups_per_method():
    groups, drops = round1(P, ctx(samples={"ansaug": 3, "rephrase": 2, "fobar": 2, "masks_per_question": 2}))
    metas = [json.loads(g.meta) for g in groups]
    assert [(m["method"], m["stage"]) for m in metas] == [
        ("ansaug", "solve"), ("rephrase", "ask"), ("sv", "rewrite"), ("fobar", "solve"), ("sv", "rewrite"), ("fobar", "solve")]
    assert [len(g.keys) for g in groups] == [3, 2, 1, 2, 1, 2] and not drops
    fobar = metas[3]
    assert fobar["query"].endswith("If we know the answer to the above question is 12, what is the value of unknown variable x?")
    # both masks sit outside the question sentence: one SV rewrite request serves both
    assert len({k for g in groups for k in g.keys}) == 10


def test_masks_are_deterministic_and_seeded():
    first, _ = chosen_masks(P, ctx(samples={"masks_per_question": 1}))
    again, _ = chosen_masks(P, ctx(samples={"masks_per_question": 1}))
    assert first == again and len(first) == 1
    values = {chosen_masks(P, ctx(seed=s, samples={"masks_per_question": 1}))[0][0].value for s in range(20)}
    assert values == {"5", "7", "2"}


def test_ineligible_questions_are_counted():
    _, drops = round1(Problem("m", "math", "Compute $2+3$.", "\\frac12", "s"), AugmentContext(
        AugmentConfig(dataset="math"), TeacherConfig(), SHOTS))
    assert drops == [{"method": "sv", "reason": "answer_not_plain_number"},
                     {"method": "fobar", "reason": "answer_not_plain_number"}]


def _row(group, text, status="ok", index=0):
    return {"meta": group.meta, "status": status, "text": text, "sample_index": index}


def test_round2_rephrase_and_sv():
    c = ctx(samples={"rephrase_solve": 2})
    groups, _ = round1(P, c)
    ask = next(g for g in groups if json.loads(g.meta)["stage"] == "ask")
    solve, drop = round2(_row(ask, "Rephrased question: How many apples does Tom own after buying 7 more?", index=1), c)
    assert drop is None and json.loads(solve.meta)["query"].startswith("How many apples") and solve.sample_indices == [2, 3]
    assert round2(_row(ask, Q), c) == (None, {"method": "rephrase", "reason": "bad_rephrasing"})
    assert round2(_row(ask, None, "failed"), c) == (None, {"method": "rephrase", "reason": "request_failed"})
    rewrite = next(g for g in groups if json.loads(g.meta)["stage"] == "rewrite")
    value = json.loads(rewrite.meta)["value"]
    solve, drop = round2(_row(rewrite, "Tom has 12 apples now."), c)
    assert drop is None and json.loads(solve.meta)["query"].endswith("Tom has 12 apples now. What is the value of unknown variable x?")
    _, drop = round2(_row(rewrite, f"Tom has 12 apples now, {value} more than before."), c)
    assert drop == {"method": "sv", "reason": "states_masked_value"}


def test_the_masking_keys_reach_the_candidates():
    problem = Problem("h", "gsm8k", "Julie read a 120-page book in 3 days. How many pages a day?", "40", "s")
    default, _ = chosen_masks(problem, ctx(samples={"masks_per_question": 5}))
    relaxed, _ = chosen_masks(problem, ctx(samples={"masks_per_question": 5}, masking={"numbers_in_compounds": True}))
    assert [m.value for m in default] == ["3"]
    assert [m.value for m in relaxed] == ["120", "3"] and "a x-page book" in relaxed[0].masked
