import json
from pathlib import Path

import pytest

from metamath.errors import DataError
from metamath.evaluate.compare import compare_runs


def _run(folder, label, paper, strict):
    folder.mkdir(parents=True)
    report = {"gsm8k": {"n": 10, "paper": {"accuracy": paper, "correct": int(paper * 10)},
                        "strict": {"accuracy": strict, "correct": int(strict * 10)},
                        "missing_answer": {"paper": 0, "strict": 0}}}
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "run.json").write_text(json.dumps({"label": label}))
    return str(folder)


def test_runs_side_by_side_in_markdown_and_a_plot(tmp_path):
    base = _run(tmp_path / "a", "base", 0.1, 0.2)
    tuned = _run(tmp_path / "b", "fine-tuned", 0.3, 0.4)
    table, path = compare_runs([base, tuned], str(tmp_path / "cmp"))
    lines = table.splitlines()
    assert lines[0] == "| benchmark | scorer | base | fine-tuned |"
    # every accuracy with its 95% Wilson interval (1/10: [1.8, 40.4], 3/10: [10.8, 60.3], ...)
    assert lines[2] == "| gsm8k | paper | 10.0 [1.8, 40.4] (n=10) | 30.0 [10.8, 60.3] (n=10) |"
    assert lines[3] == "| gsm8k | strict | 20.0 [5.7, 51.0] (n=10) | 40.0 [16.8, 68.7] (n=10) |"
    assert Path(path).read_text().startswith("# Accuracy") and (tmp_path / "cmp" / "comparison.png").stat().st_size > 1000
    assert "Paired" not in Path(path).read_text()  # no per-item verdicts kept: no paired test claimed


def _predictions(folder, correct_ids, n=40):
    (folder / "gsm8k").mkdir()
    rows = [{"id": f"q{i}", "paper_correct": i in correct_ids, "strict_correct": i in correct_ids} for i in range(n)]
    (folder / "gsm8k" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_paired_differences_against_the_first_run_tell_a_real_gain_from_noise(tmp_path):
    base, tuned, noise = (_run(tmp_path / name, name, 0.25, 0.25) for name in ("base", "tuned", "noise"))
    _predictions(tmp_path / "base", set(range(10)))
    _predictions(tmp_path / "tuned", set(range(30)))               # 20 items gained, none lost
    _predictions(tmp_path / "noise", set(range(1, 10)) | {35, 36})  # one lost, two gained
    table, path = compare_runs([base, tuned, noise], str(tmp_path / "cmp"))
    paired = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["paired"]
    gain = next(r for r in paired if r["b"] == "tuned" and r["scorer"] == "paper")
    assert (gain["n"], gain["only_a"], gain["only_b"]) == (40, 0, 20)
    assert gain["difference"] == 0.5 and gain["mcnemar_p"] == 2 / 2**20 and gain["significant"]
    assert gain["ci95"][0] > 0.3 and gain["ci95"][1] <= 0.65
    flat = next(r for r in paired if r["b"] == "noise" and r["scorer"] == "strict")
    assert (flat["only_a"], flat["only_b"]) == (1, 2) and flat["mcnemar_p"] == 1.0 and not flat["significant"]
    text = Path(path).read_text()
    assert "## Paired differences against base" in text
    assert "| gsm8k | paper | base -> tuned | 40 | +50.0 |" in text and "| yes |" in text
    assert "| gsm8k | strict | base -> noise | 40 | +2.5 |" in text and "paired, on the items" in table


def test_a_folder_without_a_report_is_named(tmp_path):
    with pytest.raises(DataError, match="no report.json"):
        compare_runs([str(tmp_path)], str(tmp_path / "cmp"))
