import pytest

from metamath.ablate.grid import build_cells, select_cells, types_of
from metamath.config.schema import AblateConfig, AugmentConfig, EvaluateConfig, MetaMathConfig, TrainConfig
from metamath.errors import ConfigError


def _cfg(**ablate):
    return MetaMathConfig(augment=AugmentConfig(dataset="gsm8k", output_dir="out/aug"),
                          train=TrainConfig(output_dir="ignored", lr=1e-5), evaluate=EvaluateConfig(limit=7),
                          ablate=AblateConfig(output_dir="out/abl", **ablate))


def test_the_default_grid_is_table_3_on_the_augment_output():
    cells = build_cells(_cfg())
    assert [c.name for c in cells] == ["SFT@all", "AnsAug@all", "Rephrasing@all", "AnsAug+Rephrasing@all", "MetaMath@all"]
    sft, anssaug_rephrase = cells[0], cells[3]
    assert sft.train.types == [] and sft.train.include_original  # the originals alone
    assert anssaug_rephrase.train.types == ["GSM_AnsAug", "GSM_Rephrased", "MATH_AnsAug", "MATH_Rephrased"]
    assert all(c.train.data_path == "out/aug/metamathqa.jsonl" and c.train.lr == 1e-5 for c in cells)
    assert cells[1].train.output_dir == "out/abl/cells/AnsAug@all/train"
    assert cells[1].evaluate.model == "out/abl/cells/AnsAug@all/train/final" and cells[1].evaluate.limit == 7


def test_sizes_make_nested_subsets_per_method_set():
    cells = build_cells(_cfg(method_sets={"AnsAug": ["ansaug"], "All": ["ansaug", "rephrase", "sv", "fobar"]},
                             sizes=[100, None], data_path="given.jsonl"))
    assert [(c.name, c.train.max_rows) for c in cells] == [("AnsAug@100", 100), ("All@100", 100),
                                                          ("AnsAug@all", None), ("All@all", None)]
    with_sft = build_cells(_cfg(method_sets={"SFT": [], "AnsAug": ["ansaug"]}, sizes=[10, 100]))
    assert [c.name for c in with_sft] == ["AnsAug@10", "SFT@all", "AnsAug@100"]  # SFT once, for every size
    assert {c.train.data_path for c in cells} == {"given.jsonl"}
    assert types_of(("sv",)) == ["GSM_SV", "MATH_SV"]


def test_bad_grids_and_unknown_cells_name_the_key():
    with pytest.raises(ValueError, match="baseline 'X' is not one of method_sets"):
        AblateConfig(baseline="X")
    with pytest.raises(ValueError, match="sizes repeat"):
        AblateConfig(sizes=[10, 10])
    with pytest.raises(ValueError):
        AblateConfig(method_sets={"bad": ["nonsense"]})
    with pytest.raises(ConfigError, match=r"ablate.cells: Nope@all not in this grid; its cells: SFT@all"):
        select_cells(build_cells(_cfg()), ["Nope@all"])
    assert [c.name for c in select_cells(build_cells(_cfg()), ["MetaMath@all"])] == ["MetaMath@all"]


def test_dars_compares_with_metamath_at_equal_data_size():
    cells = build_cells(_cfg(method_sets={"MetaMath": ["ansaug", "rephrase", "sv", "fobar"], "DARS": ["dars"]},
                             sizes=[1000, 5000]))
    assert [(c.name, c.train.max_rows) for c in cells] == [("MetaMath@1000", 1000), ("DARS@1000", 1000),
                                                          ("MetaMath@5000", 5000), ("DARS@5000", 5000)]
    assert cells[1].train.types == ["GSM_DARS", "MATH_DARS"]
