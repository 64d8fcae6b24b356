import json

from metamath.augment.verify import check


def row(method, text, status="ok", **meta):
    base = {"method": method, "stage": "solve", "source_id": "s", "original_question": "orig?", "gold": "12", "query": "q?"}
    return {"meta": json.dumps({**base, **meta}), "status": status, "text": text, "sample_index": 1, "key": "k"}


def test_forward_correct_becomes_a_record():
    out = check(row("ansaug", "5 + 7 = 12.\nThe answer is 12."), "gsm8k", "teacher-x")
    record = out["record"]
    assert out["verdict"] == "correct" and out["type"] == "GSM_AnsAug"
    assert record["response"] == "5 + 7 = 12.\n#### 12\nThe answer is: 12"
    assert record["teacher"] == "teacher-x" and record["request_key"] == "k" and record["sample_index"] == 1


def test_drop_reasons():
    assert check(row("ansaug", "The answer is 13"), "gsm8k", "t")["reason"] == "wrong_answer"
    assert check(row("rephrase", "no idea"), "gsm8k", "t")["reason"] == "no_answer"
    assert check(row("ansaug", None, "failed"), "gsm8k", "t")["reason"] == "request_failed"


def test_backward_checks_the_masked_value_not_the_answer():
    text = "We know 5 + x = 12, so x = 7. The answer is 12. The value of x is 7."
    out = check(row("fobar", text, value="7"), "gsm8k", "t")
    assert out["verdict"] == "correct" and out["type"] == "GSM_FOBAR"
    assert out["record"]["response"].endswith("The value of x is 7.\n#### 7\nThe answer is: 7")
    assert check(row("sv", "The value of x is 6.", value="7"), "gsm8k", "t")["reason"] == "wrong_answer"


def test_math_response_keeps_boxed():
    out = check(row("ansaug", "So $\\boxed{\\frac{1}{2}}$.\nThe answer is: 0.5", gold="\\frac{1}{2}"), "math", "t")
    assert out["type"] == "MATH_AnsAug"
    assert out["record"]["response"] == "So $\\boxed{\\frac{1}{2}}$.\nThe answer is: \\frac{1}{2}"


def test_a_stored_verdict_is_reused_and_new_ones_are_journaled(tmp_path):
    import pyarrow as pa

    from metamath.augment.verify import check_id, verify_batch
    rows = [dict(row("ansaug", "The answer is 12"), prompt_key="p", verdicts="{}"),
            dict(row("ansaug", "The answer is 13"), key="k2", prompt_key="p", verdicts="{}")]
    meta = json.loads(rows[0]["meta"])
    # the second response has a stored verdict for this very check: it is taken as is, not judged
    rows[1]["verdicts"] = json.dumps({check_id("gsm8k", meta): ["correct", None]})
    out = verify_batch(pa.Table.from_pylist(rows), "gsm8k", "t", str(tmp_path / "store"), "run").to_pylist()
    assert [(r["verdict"], r["cached_verdict"]) for r in out] == [("correct", False), ("correct", True)]
    assert out[1]["response"].endswith("The answer is: 12")  # the record is rebuilt from the gold
    journal = [json.loads(line) for f in (tmp_path / "store").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert [(j["kind"], j["key"], j["verdict"]) for j in journal] == [("verdict", "k", "correct")]
    assert check_id("gsm8k", meta) != check_id("gsm8k", {**meta, "gold": "13"})
