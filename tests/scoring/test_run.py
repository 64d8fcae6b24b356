"""`metamath score` acceptance: gold completions score 1.0 under both scorers, shifted ~0."""

import json

import pytest
from typer.testing import CliRunner

from metamath.cli import app
from metamath.data import load_benchmark
from metamath.errors import DataError
from metamath.scoring.run import score_predictions


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def gold_completion(problem):
    body = problem.solution + "\n" if problem.solution else ""
    return body + "The answer is: " + problem.gold


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["gsm8k", "math", "math500", "gsm8k_backward"])
def test_gold_scores_one_and_shifted_near_zero(data_root, tmp_path, benchmark):
    problems = load_benchmark(benchmark, "test").problems
    gold = _write(tmp_path / "gold.jsonl", [{"question": p.question, "completion": gold_completion(p)} for p in problems])
    report = score_predictions(benchmark, gold, str(tmp_path / "gold"))[benchmark]
    assert report["n"] == len(problems)
    assert report["paper"]["accuracy"] == 1.0 and report["strict"]["accuracy"] == 1.0
    shifted = [{"id": p.id, "completion": "The answer is: " + problems[(i + 1) % len(problems)].gold}
               for i, p in enumerate(problems)]
    report = score_predictions(benchmark, _write(tmp_path / "s.jsonl", shifted), str(tmp_path / "s"))[benchmark]
    assert report["paper"]["accuracy"] < 0.05 and report["strict"]["accuracy"] < 0.05


def test_cli_writes_report_verdicts_and_table(data_root, tmp_path):
    problems = load_benchmark("math500", "test", limit=12).problems
    rows = [{"id": p.id, "completion": gold_completion(p) if i % 2 else "no idea"} for i, p in enumerate(problems)]
    result = CliRunner().invoke(app, ["score", "--benchmark", "math500", "--predictions",
                                      _write(tmp_path / "p.jsonl", rows), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())["math500"]
    assert report["n"] == 12 and report["paper"]["accuracy"] == 0.5 and report["strict"]["accuracy"] == 0.5
    assert report["missing_answer"]["paper"] == 6 and "by_subject" in report and "by_level" in report
    verdicts = [json.loads(line) for line in (tmp_path / "o" / "verdicts.jsonl").read_text().splitlines()]
    assert len(verdicts) == 12 and {"paper_answer", "strict_answer", "paper_correct", "strict_correct"} <= set(verdicts[0])
    assert report["paper"]["ci95"] == [0.2538, 0.7462]  # 6/12, 95% Wilson
    assert "math500" in result.output and "50.0 [25.4, 74.6]" in result.output


def test_unknown_questions_are_listed(data_root, tmp_path):
    rows = [{"question": f"not a real question {i}", "completion": "x"} for i in range(5)]
    with pytest.raises(DataError, match=r"5 prediction\(s\) match no question.*line 1"):
        score_predictions("gsm8k", _write(tmp_path / "p.jsonl", rows), str(tmp_path / "o"))
    result = CliRunner().invoke(app, ["score", "--benchmark", "gsm8k", "--predictions", str(tmp_path / "p.jsonl"),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "match no question" in result.output


def test_rows_need_completion_and_a_key(data_root, tmp_path):
    with pytest.raises(DataError, match=r"p.jsonl:1: missing string field 'completion'"):
        score_predictions("gsm8k", _write(tmp_path / "p.jsonl", [{"question": "q"}]), str(tmp_path / "o"))
    with pytest.raises(DataError, match=r"p.jsonl:1: needs a 'question' or an 'id'"):
        score_predictions("gsm8k", _write(tmp_path / "p.jsonl", [{"completion": "c"}]), str(tmp_path / "o"))


def test_a_completion_that_crashes_a_scorer_is_counted_not_fatal(data_root, tmp_path):
    problems = load_benchmark("gsm8k", "test", limit=3).problems
    rows = [{"id": p.id, "completion": "The answer is: 5/00" if i == 1 else gold_completion(p)}
            for i, p in enumerate(problems)]
    result = CliRunner().invoke(app, ["score", "--benchmark", "gsm8k", "--predictions",
                                      _write(tmp_path / "p.jsonl", rows), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())["gsm8k"]
    assert report["n"] == 3 and report["paper"]["correct"] == 2 and report["scoring_errors"] == 1
    assert report["missing_answer"]["paper"] == 1
