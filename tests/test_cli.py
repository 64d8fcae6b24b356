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


def _unwritable(tmp_path):
    import os

    parent = tmp_path / "locked"
    parent.mkdir()
    os.chmod(parent, 0o500)  # read and enter only
    return parent / "out"


CONFIGS = {
    "augment": "augment:\n  dataset: gsm8k\n  output_dir: {out}\n",
    "train": "train:\n  data_path: nowhere.jsonl\n  output_dir: {out}\n",
    "evaluate": "evaluate:\n  benchmarks: [gsm8k]\n  output_dir: {out}\n",
    "pipeline": "pipeline:\n  output_dir: {out}\n",
}


def test_an_unwritable_output_dir_is_one_line_before_any_work(tmp_path):
    import os

    if os.geteuid() == 0:
        # root writes through permissions: a path under a regular file cannot be created by anyone
        blocker = tmp_path / "file"
        blocker.write_text("")
        out = blocker / "out"
    else:
        out = _unwritable(tmp_path)
    for command, text in CONFIGS.items():
        (tmp_path / f"{command}.yaml").write_text(text.format(out=out))
        result = runner.invoke(app, [command, "--config", str(tmp_path / f"{command}.yaml")])
        assert result.exit_code != 0, (command, result.output)
        key = f"{command}.output_dir"
        assert key in result.output and "cannot write" in result.output, (command, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3, result.output
