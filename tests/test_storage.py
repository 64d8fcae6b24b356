"""The storage layer against a local folder, a real S3 API server on loopback (moto) and an fsspec
filesystem (memory://): the same calls, paths kept in the form they were given."""

import pytest

from metamath import storage


@pytest.fixture(params=["local", "s3", "memory"])
def root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "root")
    if request.param == "memory":
        return f"memory://metamath-{request.node.name.split('[')[0][-20:]}/{tmp_path.name}"
    return request.getfixturevalue("s3_bucket") + "/root"


def test_write_read_list_and_delete_keep_the_paths_form(root):
    storage.write_text(storage.join(root, "a", "one.txt"), "one\ntwo\n")
    storage.write_bytes(storage.join(root, "a", "b", "two.parquet"), b"x" * 5)
    assert storage.read_text(storage.join(root, "a", "one.txt")) == "one\ntwo\n"
    assert list(storage.text_lines(storage.join(root, "a", "one.txt"))) == ["one\n", "two\n"]
    assert storage.list_files(root) == [storage.join(root, "a", "b", "two.parquet"), storage.join(root, "a", "one.txt")]
    assert storage.list_files(root, ".parquet") == [storage.join(root, "a", "b", "two.parquet")]
    assert storage.list_dirs(storage.join(root, "a")) == [storage.join(root, "a", "b")]
    assert storage.is_file(storage.join(root, "a", "one.txt")) and storage.is_dir(storage.join(root, "a"))
    assert storage.size(storage.join(root, "a", "b", "two.parquet")) == 5
    storage.clear_folder(storage.join(root, "a"))
    assert storage.list_files(root) == [] and not storage.exists(storage.join(root, "a", "one.txt"))
    assert storage.list_files(storage.join(root, "never")) == []


def test_uri_joins_keep_both_slashes_where_pathlib_would_drop_one():
    assert storage.join("s3://bucket/run", "augment", "metamathqa.jsonl") == "s3://bucket/run/augment/metamathqa.jsonl"
    assert storage.join("s3://bucket/run/", "/x") == "s3://bucket/run/x"
    assert storage.parent("s3://bucket/run/final") == "s3://bucket/run" and storage.name("s3://b/run/final/") == "final"
    assert storage.is_uri("gs://b/x") and storage.is_local("outputs/x") and storage.is_local("file:///tmp/x")
    assert storage.absolute("file:///tmp/x") == "/tmp/x" and storage.absolute("s3://b/x") == "s3://b/x"
    assert storage.is_uri("C://x") is False  # a drive letter is no scheme


def test_an_unknown_scheme_names_the_path_and_the_package_to_install():
    with pytest.raises(storage.StorageError, match=r"nosuchfs://b/x: no filesystem for 'nosuchfs://'"):
        storage.filesystem("nosuchfs://b/x")


def test_upload_and_download_a_folder(s3_bucket, tmp_path):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "model" / "sub" / "w.bin").write_bytes(b"\0" * 100)
    storage.upload(str(tmp_path / "model"), f"{s3_bucket}/m")
    storage.download(f"{s3_bucket}/m", str(tmp_path / "back"))
    assert (tmp_path / "back" / "config.json").read_text() == "{}"
    assert (tmp_path / "back" / "sub" / "w.bin").stat().st_size == 100


def test_access_problems_name_bucket_endpoint_and_credential_sources_but_never_a_secret(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    line = storage.access_problem("s3://some-bucket/x", OSError("AWS Error NO_SUCH_BUCKET during CreateMultipartUpload"))
    assert line.startswith("s3://some-bucket/x: the bucket does not exist (bucket 'some-bucket', endpoint http://127.0.0.1:")
    assert "AWS_ACCESS_KEY_ID" in line and "set: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in line
    assert "very-secret-value" not in line and "metamath-tests" not in line
    assert storage.is_placeholder("s3://YOUR-BUCKET/metamath") and not storage.is_placeholder("s3://my-bucket/x")
