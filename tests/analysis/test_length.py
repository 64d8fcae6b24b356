import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metamath.analysis.length import analyze_length, length_bins
from metamath.cli import app
from metamath.errors import DataError


def _run(folder, n=30):
    """Questions of 1..n words; short ones all right, long ones all wrong, the middle half right."""
    (folder / "gsm8k").mkdir(parents=True)
    rows = [{"id": f"q{i:02d}", "question": " ".join(["w"] * (i + 1)), "paper_correct": i < 10 or (10 <= i < 20 and i % 2 == 0),
             "strict_correct": i < 10} for i in range(n)]
    (folder / "gsm8k" / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))
    (folder / "report.json").write_text(json.dumps({"gsm8k": {"n": n}}))
    return folder


def test_three_equal_bins_by_words_with_known_accuracies(tmp_path):
    table, written = analyze_length(str(_run(tmp_path / "run")))
    result = json.loads((tmp_path / "run" / "analysis" / "length.json").read_text())["gsm8k"]
    assert [b["bin"] for b in result] == ["short", "medium", "long"] and [b["n"] for b in result] == [10, 10, 10]
    assert [b["words"] for b in result] == [[1, 10], [11, 20], [21, 30]]
    assert [b["paper"]["accuracy"] for b in result] == [1.0, 0.5, 0.0]
    assert [b["strict"]["accuracy"] for b in result] == [1.0, 0.0, 0.0]
    assert result[1]["paper"]["ci95"] == [0.2366, 0.7634]            # 5/10, 95% Wilson
    assert "| gsm8k | medium | 11-20 | 10 | 50.0 [23.7, 76.3] | 0.0 [0.0, 27.8] |" in table
    assert (tmp_path / "run" / "analysis" / "length.png").stat().st_size > 1000
    assert [Path(p).name for p in written] == ["length.md", "length.json", "length.png"]


def test_uneven_counts_and_ties_cut_deterministically():
    items = [{"id": f"q{i}", "words": 5, "paper": True, "strict": False} for i in range(7)]
    bins = length_bins(items)
    assert [b["n"] for b in bins] == [3, 2, 2]
    assert length_bins(list(reversed(items))) == bins


def test_the_cli_and_a_run_without_predictions(tmp_path):
    result = CliRunner().invoke(app, ["analyze", "length", str(_run(tmp_path / "run")), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "| gsm8k | short | 1-10 | 10 |" in result.output and (tmp_path / "o" / "length.png").is_file()
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "report.json").write_text(json.dumps({"math": {"n": 1}}))
    with pytest.raises(DataError, match=r"math/predictions.jsonl: not found"):
        analyze_length(str(tmp_path / "bare"))
