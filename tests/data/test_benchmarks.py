import json

import pytest

from metamath.data import load_benchmark
from metamath.data.benchmarks import gsm8k_gold
from metamath.errors import DataError
from metamath.latex import last_boxed

EXPECTED = {
    ("gsm8k", "train"): 7473, ("gsm8k", "test"): 1319, ("math", "train"): 7500,
    ("math", "test"): 5000, ("math500", "test"): 500, ("gsm8k_backward", "test"): 1270,
}


@pytest.mark.parametrize("name,split", sorted(EXPECTED))
def test_real_files_load_completely_with_unique_ids(data_root, name, split):
    result = load_benchmark(name, split)
    assert len(result.problems) == EXPECTED[(name, split)] and not result.skipped
    assert len({p.id for p in result.problems}) == len(result.problems)
    assert all(p.question and p.line > 0 for p in result.problems)


def test_ids_are_stable_across_loads(data_root):
    first = [p.id for p in load_benchmark("gsm8k", "test", limit=5).problems]
    assert first == [p.id for p in load_benchmark("gsm8k", "test", limit=5).problems]


def test_gsm8k_gold_strips_commas_and_keeps_sign():
    assert gsm8k_gold("so 1,234 total\n#### 1,234") == "1234"
    assert gsm8k_gold("#### -3") == "-3"
    with pytest.raises(ValueError):
        gsm8k_gold("no final line")


def test_math_gold_is_last_boxed_brace_matched(data_root):
    problems = load_benchmark("math", "test").problems
    assert all(last_boxed(p.solution) == p.gold for p in problems)
    assert last_boxed(r"first \boxed{1} then \boxed{\frac{a}{b_{2}}}.") == r"\frac{a}{b_{2}}"
    assert last_boxed(r"so \boxed 5.") == "5"
    assert last_boxed(r"\fbox{x} and none") == "x"
    assert last_boxed("nothing here") is None


def test_math_keeps_subject_and_level(data_root):
    problems = load_benchmark("math500", "test").problems
    assert {p.level for p in problems} == {1, 2, 3, 4, 5}
    assert "Precalculus" in {p.subject for p in problems}
    train = load_benchmark("math", "train").problems
    assert sum(p.level is None for p in train) == 2  # the two "Level ?" rows


def test_malformed_rows_error_with_file_and_line(tmp_path):
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps({"question": "q1", "answer": "#### 1"}) + "\n{not json\n")
    with pytest.raises(DataError, match=r"gsm.jsonl:2: invalid JSON"):
        load_benchmark("gsm8k", "test", path=str(path))


def test_malformed_rows_skipped_and_counted(tmp_path):
    rows = [{"question": "q1", "answer": "#### 1"}, {"question": "q2"}, {"question": "q3", "answer": "no marker"}]
    path = tmp_path / "gsm.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n[1, 2]\n")
    result = load_benchmark("gsm8k", "test", path=str(path), on_malformed="skip")
    assert [p.gold for p in result.problems] == ["1"]
    assert [line for line, _ in result.skipped] == [2, 3, 4]
    assert "answer" in result.skipped[0][1] and "####" in result.skipped[1][1]


def test_missing_field_is_an_error_by_default(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"problem": "p", "solution": "no box"}) + "\n")
    with pytest.raises(DataError, match=r"m.jsonl:1: solution has no \\boxed"):
        load_benchmark("math", "test", path=str(path))


def test_parquet_source(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist([{"question": "x is?", "answer": 4}]), path)
    problems = load_benchmark("gsm8k_backward", "test", path=str(path)).problems
    assert problems[0].gold == "4"


def test_missing_file_and_bad_root(tmp_path):
    with pytest.raises(DataError, match="cannot open"):
        load_benchmark("gsm8k", "test", path=str(tmp_path / "none.jsonl"))
    with pytest.raises(DataError, match="does not exist"):
        load_benchmark("gsm8k", "test", root=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="unsupported source"):
        load_benchmark("gsm8k", "test", path=str(tmp_path / "x.csv"))
