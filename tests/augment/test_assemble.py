from metamath.augment.assemble import assemble, original_records, stable_order, subsample
from metamath.config import AugmentConfig
from metamath.data.benchmarks import Problem
from metamath.records import FilterReport, MetaMathQARecord


def rec(i, kind="GSM_AnsAug", query=None):
    return MetaMathQARecord(query or f"q{i}", f"r{i}", kind, "o", f"s{i % 3}", "t", i, f"k{i}")


def test_subsample_is_seeded_and_respects_targets():
    rows = [rec(i) for i in range(20)] + [rec(i, "GSM_SV") for i in range(5)]
    report = FilterReport()
    first = subsample(rows, {"GSM_AnsAug": 8}, 1, report)
    assert subsample(rows, {"GSM_AnsAug": 8}, 1, FilterReport()) == first
    assert subsample(rows, {"GSM_AnsAug": 8}, 2, FilterReport()) != first
    assert sum(r.type == "GSM_AnsAug" for r in first) == 8 and sum(r.type == "GSM_SV" for r in first) == 5
    assert report.dropped["subsampled:GSM_AnsAug"] == 12


def test_order_is_independent_of_arrival():
    rows = [rec(i) for i in range(10)] + [rec(i, "GSM_FOBAR") for i in range(3)]
    assert stable_order(rows) == stable_order(list(reversed(rows)))
    assert stable_order(rows)[0].type == "GSM_AnsAug"


def test_assemble_counts_drops_per_type(data_root):
    test_question = "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins"
    rows = [rec(1), rec(1), rec(2, query=test_question + " for her friends every day with four.")] + [rec(i + 10) for i in range(5)]
    aug = AugmentConfig(dataset="gsm8k", target_counts={"GSM_AnsAug": 3})
    final, report, drops = assemble(rows, aug, [], None)
    assert len(final) == 3
    assert drops["GSM_AnsAug"] == {"duplicate": 1, "contaminated": 1, "subsampled": 3}


def test_originals_are_finalised():
    (row,) = original_records([Problem("p", "gsm8k", "Q?", "12", "a <<5+7=12>>12 apples\n#### 12")], "gsm8k")
    assert row.response == "a 12 apples\n#### 12\nThe answer is: 12" and row.teacher == "original"
