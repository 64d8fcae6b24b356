from typer.testing import CliRunner

from metamath.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    for command in ("augment", "train", "evaluate", "pipeline", "score"):
        assert command in result.output


def test_config_errors_fail_before_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("augment:\n  dataset: gsm8k\n  limt: 3\n")
    result = runner.invoke(app, ["augment", "--config", str(path)])
    assert result.exit_code == 2
    assert "augment.limt: unknown key" in result.output and str(path) in result.output
    result = runner.invoke(app, ["train", "--config", str(path), "train.lr=abc"])
    assert result.exit_code == 2 and "override train.lr" in result.output


def test_missing_section_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("evaluate: {}\n")
    result = runner.invoke(app, ["augment", "--config", str(path)])
    assert result.exit_code == 2 and "no 'augment' section" in result.output


def test_score_rejects_unknown_benchmark(tmp_path):
    result = runner.invoke(app, ["score", "--benchmark", "mmlu", "--predictions", "p", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "choose from" in result.output
