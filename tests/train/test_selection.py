import pytest

from metamath.config.schema import TrainConfig
from metamath.records.schema import MetaMathQARecord
from metamath.train.selection import is_selective, select_records, subset_size


def _rows():
    rows = [MetaMathQARecord(f"q{i}", f"a{i}", kind, f"q{i}", teacher="scripted")
            for i in range(40) for kind in ("GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR")]
    rows += [MetaMathQARecord(f"orig{i}", f"sol{i}", "GSM_AnsAug", f"orig{i}", teacher="original", sample_index=-1)
             for i in range(10)]
    return rows


def test_types_keep_those_augmented_rows_and_the_originals_ride_along():
    chosen, kept = select_records(_rows(), TrainConfig(types=["GSM_SV", "GSM_FOBAR"]))
    assert {r.type for r in chosen if r.teacher != "original"} == {"GSM_SV", "GSM_FOBAR"}
    assert sum(r.teacher == "original" for r in chosen) == 10 and len(chosen) == 90
    assert kept.to_dict() == {"augmented_in_file": 160, "of_types": 80, "augmented_kept": 80,
                              "originals_in_file": 10, "originals_kept": 10}
    only_originals, _ = select_records(_rows(), TrainConfig(types=[]))   # the paper's SFT baseline
    assert len(only_originals) == 10 and all(r.teacher == "original" for r in only_originals)
    no_originals, _ = select_records(_rows(), TrainConfig(include_original=False))
    assert len(no_originals) == 160


def test_subsets_are_seeded_nested_and_independent_of_file_order():
    rows = _rows()
    quarter, _ = select_records(rows, TrainConfig(fraction=0.25, include_original=False))
    half, _ = select_records(rows, TrainConfig(fraction=0.5, include_original=False))
    capped, _ = select_records(rows, TrainConfig(fraction=0.5, max_rows=30, include_original=False))
    assert (len(quarter), len(half), len(capped)) == (40, 80, 30)
    keys = lambda chosen: {(r.query, r.type) for r in chosen}  # noqa: E731
    assert keys(capped) <= keys(quarter) <= keys(half)           # a data-size curve only adds rows
    assert keys(select_records(rows[::-1], TrainConfig(fraction=0.25, include_original=False))[0]) == keys(quarter)
    other_seed, _ = select_records(rows, TrainConfig(fraction=0.25, include_original=False, seed=7))
    assert keys(other_seed) != keys(quarter)
    positions = [rows.index(r) for r in half]
    assert positions == sorted(positions)                          # file order kept


def test_subset_size_and_what_counts_as_a_slice():
    assert subset_size(100, None, None) == 100 and subset_size(100, 0.333, None) == 33
    assert subset_size(100, 0.5, 20) == 20 and subset_size(10, None, 50) == 10
    assert not is_selective(TrainConfig()) and is_selective(TrainConfig(max_rows=5))
    assert is_selective(TrainConfig(include_original=False))
    with pytest.raises(ValueError):
        TrainConfig(fraction=0.0)
