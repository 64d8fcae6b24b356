import pytest

from typer.testing import CliRunner

from metamath.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    for command in ("augment", "train", "evaluate", "pipeline", "score"):
        assert command in result.output


def test_help_texts_list_every_choice_the_schema_has_and_version_prints():
    from typing import get_args

    from metamath import __version__
    from metamath.config.schema import AugmentMethod, Benchmark, EngineConfig

    flat = lambda args: " ".join(runner.invoke(app, args, terminal_width=200).output.split())  # noqa: E731
    backends = get_args(EngineConfig.model_fields["backend"].annotation)
    assert all(name in flat(["evaluate", "--help"]) for name in (*get_args(Benchmark), *backends))
    assert all(name in flat(["augment", "--help"]) for name in (*get_args(AugmentMethod), *backends))
    assert all(name in flat(["score", "--help"]) for name in get_args(Benchmark))
    assert runner.invoke(app, ["--version"]).output.strip() == f"metamath {__version__}"


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


def _run_in_a_terminal(cmd: list[str], env: dict, timeout: float = 300) -> str:
    """Run `cmd` with a pseudo-terminal as stdout and stderr (progress bars draw as they do for a
    person) and return the screen's lines: each line as the terminal leaves it after `\\r`s."""
    import os
    import pty
    import re
    import subprocess
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.time() + timeout
    while time.time() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed: the command ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    return [line.split("\r")[-1] if line.split("\r")[-1].strip() else line.replace("\r", "")
            for line in text.replace("\r\n", "\n").split("\n")]


@pytest.mark.slow
def test_the_error_is_the_last_line_on_the_terminal(session_ray_env, tmp_path, data_root):
    """A refused key: the workers log the failure too, and Ray forwards their lines late (the
    command attached to a running Ray, as on a cluster)."""
    import sys

    import yaml

    from metamath.testing.scripted_server import Script, ServerProcess

    with ServerProcess(Script(faults=[{"every": 1, "fault": "401", "attempts": 99}], models_status=404)) as server:
        config = {"augment": {"dataset": "gsm8k", "limit": 8, "output_dir": str(tmp_path / "out")},
                  "teacher": {"backend": "openai", "base_url": server.base_url, "model": "scripted", "max_concurrency": 4}}
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
        screen = _run_in_a_terminal([sys.executable, "-m", "metamath", "augment", "--config", str(tmp_path / "c.yaml")],
                                    session_ray_env)
    shown = [line for line in screen if line.strip()]
    assert shown[-1].startswith("error: teacher endpoint"), shown[-8:]
