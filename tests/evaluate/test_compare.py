import json

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
    assert lines[2] == "| gsm8k | paper | 10.0 (n=10) | 30.0 (n=10) |"
    assert lines[3] == "| gsm8k | strict | 20.0 (n=10) | 40.0 (n=10) |"
    assert path.read_text().startswith("# Accuracy") and (tmp_path / "cmp" / "comparison.png").stat().st_size > 1000


def test_a_folder_without_a_report_is_named(tmp_path):
    with pytest.raises(DataError, match="no report.json"):
        compare_runs([str(tmp_path)], str(tmp_path / "cmp"))
