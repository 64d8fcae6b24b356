"""The Ray Data assembly keeps exactly the rows, in exactly the order, of the in-memory
`assemble()` for the same seed: duplicates, contamination and per-type targets included."""

import json

import pytest

from metamath.augment import assemble_dataset as assembly
from metamath.augment.assemble import assemble
from metamath.config import AugmentConfig
from metamath.data.benchmarks import Problem
from metamath.records import MetaMathQARecord, read_records

pytestmark = pytest.mark.slow

TEST_QUESTION = ("Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
                 "for her friends every day with four.")


def fixture_records() -> list[MetaMathQARecord]:
    rows = []
    for i in range(60):
        kind = ("GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR")[i % 4]
        rows.append(MetaMathQARecord(f"Question {i % 17}?", f"Answer {i % 23}", kind, f"orig {i % 17}",
                                     f"src{i % 5}", "t", i, f"key{i:03d}"))
    rows += rows[:7]  # exact duplicates
    rows += [MetaMathQARecord(TEST_QUESTION, f"r{j}", "GSM_AnsAug", "o", "s", "t", j, f"c{j}") for j in range(3)]
    return rows


def test_ray_data_assembly_equals_the_in_memory_one(ray_local, data_root, tmp_path):
    import ray

    records = fixture_records()
    problems = [Problem(f"p{i}", "gsm8k", f"Original {i}?", str(i), f"{i} apples\n#### {i}") for i in range(3)]
    for seed in (0, 7):
        aug = AugmentConfig(dataset="gsm8k", seed=seed, include_original=True,
                            target_counts={"GSM_AnsAug": 5, "GSM_SV": 9, "GSM_FOBAR": 100})
        expected, report, drops = assemble(list(reversed(records)), aug, problems, str(data_root))
        verified = ray.data.from_items([{**r.to_dict(), "verdict": "correct"} for r in records])
        marked = assembly.mark(verified, aug, len(records), str(data_root))
        per_type, reasons, kept = assembly.drop_tally(marked)
        out = tmp_path / f"seed{seed}"
        assembly.write_final(marked, problems, aug, str(out / "shards"))
        rows = ray.get(assembly.join_shards.remote(str(out / "shards"), str(out / "m.parquet"), str(out / "m.jsonl")))
        got = [MetaMathQARecord(**json.loads(line)) for line in (out / "m.jsonl").read_text().splitlines()]
        assert got == expected and rows == len(expected)
        assert read_records(str(out / "m.parquet"))[0] == expected
        assert dict(reasons) == dict(report.dropped)
        assert {k: dict(v) for k, v in per_type.items()} == {k: dict(v) for k, v in drops.items()}
        assert sum(kept.values()) == len(expected) - len(problems)
    assert reasons["duplicate"] == 7 and reasons["contaminated:gsm8k_test"] == 3 and reasons["subsampled:GSM_AnsAug"] > 0
