"""Object storage that cannot be used fails before any work with one line: the key, the bucket,
the endpoint and where credentials were looked for; never a credential's value. A real S3 API
server (moto) on loopback stands in for the cloud."""

import pytest
from typer.testing import CliRunner

from metamath.cli import app

runner = CliRunner()


def _augment(tmp_path, output_dir: str, data_path: str | None = None) -> str:
    extra = f"  data_path: {data_path}\n" if data_path else ""
    path = tmp_path / "c.yaml"
    path.write_text(f"augment:\n  dataset: gsm8k\n  output_dir: {output_dir}\n{extra}"
                    "teacher:\n  backend: openai\n  base_url: http://127.0.0.1:9/v1\n")
    return str(path)


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


def test_the_shipped_placeholder_bucket_is_named_as_one(tmp_path, s3_server):
    line = _one_line_error(runner.invoke(app, ["augment", "--config", _augment(tmp_path, "s3://YOUR-BUCKET/metamath/x")]))
    assert line == "error: augment.output_dir: 's3://YOUR-BUCKET/metamath/x' is a placeholder; put the URI of your own bucket there"


def test_a_missing_bucket_names_bucket_endpoint_and_credential_sources(tmp_path, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-never-printed")
    line = _one_line_error(runner.invoke(app, ["augment", "--config", _augment(tmp_path, "s3://no-such-bucket/run")]))
    assert line.startswith("error: augment.output_dir: cannot write to s3://no-such-bucket/run: the bucket does not "
                           f"exist (bucket 'no-such-bucket', endpoint {s3_server}; credentials looked for in "
                           "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"), line
    assert "s3cr3t-never-printed" not in line


def test_an_input_on_a_bucket_must_exist_before_any_work(tmp_path, s3_bucket):
    line = _one_line_error(runner.invoke(app, ["augment", "--config", _augment(
        tmp_path, f"{s3_bucket}/out", data_path=f"{s3_bucket}/data/train.jsonl")]))
    assert line == f"error: augment.data_path: {s3_bucket}/data/train.jsonl does not exist"


@pytest.mark.timeout(120)
def test_an_unreachable_endpoint_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    line = _one_line_error(runner.invoke(app, ["augment", "--config", _augment(tmp_path, "s3://some-bucket/run")]))
    assert "cannot write to s3://some-bucket/run: the endpoint cannot be reached (bucket 'some-bucket', endpoint " \
           "http://127.0.0.1:9;" in line
