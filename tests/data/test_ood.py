"""The out-of-distribution loaders on the real files: counts, the README's quirks, and where a
missing file was looked for."""

import pytest

from metamath.data import load_benchmark
from metamath.data.ood import OOD_BENCHMARKS, asdiv_gold, drop, number_text, tabmwp_gold, tabmwp_question
from metamath.data.paths import resolve_source
from metamath.errors import DataError

ROWS = {"svamp": 1000, "asdiv": 2215, "mawps": 2065, "gsm_hard": 1319, "tabmwp": 1000, "drop": 9536}


@pytest.mark.parametrize("name", OOD_BENCHMARKS)
def test_real_files_load_every_row(data_root, name):
    result = load_benchmark(name)
    assert len(result.problems) == ROWS[name] and not result.skipped
    assert all(p.question.strip() and p.gold.strip() and p.benchmark == name for p in result.problems)


def test_exact_duplicate_rows_share_an_id_and_others_do_not(data_root):
    problems = load_benchmark("mawps").problems  # 84 repeated inputs, each with its one target
    by_id = {}
    for p in problems:
        by_id.setdefault(p.id, set()).add((p.question, p.gold))
    assert len(by_id) == len({(p.question, p.gold) for p in problems}) < len(problems)
    assert all(len(pairs) == 1 for pairs in by_id.values())


def test_numeric_golds_lose_float_noise_and_units():
    assert number_text(3244047.0999999996) == "3244047.1"  # GSM-Hard
    assert number_text(-9867630.0) == "-9867630"
    assert number_text(0.6666666667) == "0.6666666667"  # MAWPS, rounded at 10 places
    assert number_text(2.0107e-06) == "0.0000020107"  # no exponent: models do not write one
    assert asdiv_gold("9 (apples)") == "9"
    assert asdiv_gold("1,000 (meters)") == "1000"
    assert asdiv_gold("3:30 p.m.") == "3:30 p.m." and asdiv_gold("Mrs. Hilt") == "Mrs. Hilt"
    assert tabmwp_gold("4,656", "integer_number") == "4656"
    assert tabmwp_gold("3/10", "decimal_number") == "3/10" and tabmwp_gold("yes", "boolean_text") == "yes"


def test_tabmwp_question_carries_table_unit_and_options():
    text = tabmwp_question({"table_title": "Prices", "table": "a | b\n1 | 2", "question": "How much?", "unit": "$",
                            "choices": ["shortage", "surplus"]})
    assert text == "Table: Prices\na | b\n1 | 2\nQuestion: How much? (Unit: $)\nOptions: shortage; surplus"


def test_real_asdiv_and_tabmwp_rows_have_their_documented_golds(data_root):
    asdiv = load_benchmark("asdiv").problems
    assert asdiv[0].gold == "9" and not any("(" in p.gold for p in asdiv)
    tab = load_benchmark("tabmwp").problems
    assert not any("," in p.gold for p in tab if p.subject in ("integer_number", "decimal_number"))
    assert {p.level for p in tab} <= set(range(1, 9)) and tab[0].subject == "integer_number"


def test_drop_reads_simple_evals_and_hub_rows():
    simple = drop({"context": "Passage: P here.\nQuestion: Who?\nAnswer:", "completion": " Ann", "ref_text": "Ann|  Ann B"})
    assert simple["question"] == "Passage: P here.\nQuestion: Who?" and simple["gold"] == "Ann|Ann B"
    hub = drop({"passage": "P", "question": "Q", "answers_spans": {"spans": ["3", " 4 "]}})
    assert hub["gold"] == "3|4"


def test_a_malformed_row_names_its_line(tmp_path):
    path = tmp_path / "svamp.jsonl"
    path.write_text('{"Body": "A has 2.", "Question": "How many?", "Answer": 2.0}\n{"Body": "x", "Question": "y"}\n')
    with pytest.raises(DataError, match=r"svamp.jsonl:2: missing or empty field 'Answer' / 'answer'"):
        load_benchmark("svamp", path=str(path))
    assert len(load_benchmark("svamp", path=str(path), on_malformed="skip").problems) == 1


def test_a_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match=r"tabmwp/test.jsonl: missing \(data root .*tabmwp is read from"):
        resolve_source("tabmwp", "test", root=str(tmp_path))
