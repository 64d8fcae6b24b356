"""build_dataset on a real local Ray: the slice train.types / max_rows asks for, and its errors."""

import pytest

from metamath.config.schema import TrainConfig
from metamath.errors import DataError
from metamath.records import write_jsonl
from metamath.records.schema import MetaMathQARecord
from metamath.train.dataset import build_dataset

pytestmark = pytest.mark.slow


def _data(path):
    rows = [MetaMathQARecord(f"Q{i} {kind}?", f"A {i}.\nThe answer is: {i}", kind, f"Q{i}?", teacher="scripted")
            for i in range(12) for kind in ("GSM_AnsAug", "GSM_SV")]
    rows += [MetaMathQARecord(f"Q{i}?", f"S {i}.\nThe answer is: {i}", "GSM_AnsAug", f"Q{i}?", teacher="original",
                              sample_index=-1) for i in range(4)]
    write_jsonl(rows, path)
    return str(path)


def test_a_slice_of_types_and_rows_reaches_the_workers(ray_local, tiny_llama, tmp_path):
    data = _data(tmp_path / "mmqa.jsonl")
    cfg = TrainConfig(model=str(tiny_llama), data_path=data, types=["GSM_SV"], max_rows=5, max_length=128)
    ds, stats = build_dataset(cfg, str(tiny_llama), "error")
    assert stats.source_rows == 28 and stats.examples == 9 and ds.count() == 9  # 5 SV rows + 4 originals
    assert stats.selection == {"augmented_in_file": 24, "of_types": 12, "augmented_kept": 5,
                               "originals_in_file": 4, "originals_kept": 4}
    everything, full = build_dataset(cfg.model_copy(update={"types": None, "max_rows": None}), str(tiny_llama), "error")
    assert full.selection is None and everything.count() == 28
    with pytest.raises(DataError, match=r"train.types=\['GSM_FOBAR'\].*include_original=False leave no row of 28"):
        build_dataset(cfg.model_copy(update={"types": ["GSM_FOBAR"], "include_original": False}), str(tiny_llama), "error")
