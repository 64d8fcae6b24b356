"""Every path the project reads or writes: a local path, or a URI of a pyarrow filesystem (`s3://`,
`gs://`, `hdfs://`, `file://`) or of an fsspec filesystem (`abfs://`, `memory://`, ... through
pyarrow's `PyFileSystem(FSSpecHandler)`, when its package is installed).

This is the one module that resolves filesystems: callers hand it the path as the user wrote it
and get back strings in the same form (a URI stays a URI, so a path can travel to a Ray worker on
another node and mean the same thing there). Object stores have no directories and no append;
nothing here relies on either.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import uuid
from functools import lru_cache
from typing import IO, Iterator

import pyarrow as pa
import pyarrow.fs as pafs

from metamath.errors import MetaMathError


class StorageError(MetaMathError):
    """A path that cannot be resolved, read or written: the message names it."""


def scheme(path: str) -> str:
    """`s3` for `s3://bucket/key`, '' for a local path (a Windows drive letter is no scheme)."""
    head, sep, _ = path.partition("://")
    return head.lower() if sep and head.isidentifier() and len(head) > 1 else ""


def is_uri(path: str) -> bool:
    return bool(scheme(path)) and scheme(path) != "file"


def is_local(path: str) -> bool:
    return not is_uri(path)


def absolute(path: str) -> str:
    """A local path made absolute (Ray workers do not share the driver's working directory);
    a URI unchanged."""
    if scheme(path) == "file":
        return path[len("file://"):]
    return path if is_uri(path) else os.path.abspath(os.path.expanduser(path))


# The variables that choose an object store's endpoint and credentials: a filesystem is cached
# per bucket and per their values, so a changed environment never meets a stale client.
_CLIENT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
               "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST")
_BUCKETED = ("s3", "gs", "gcs")


@lru_cache(maxsize=64)
def _bucket_filesystem(prefix: str, _env: tuple) -> pafs.FileSystem:
    """One client per bucket: pyarrow resolves an S3 bucket's region with a request each time."""
    return pafs.FileSystem.from_uri(prefix)[0]


def _fsspec_filesystem(path: str) -> pafs.FileSystem:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with datasets
        raise StorageError(f"{path}: pyarrow has no filesystem for '{scheme(path)}://' and fsspec is not installed")
    try:
        fs = fsspec.filesystem(scheme(path))
    except (ImportError, ValueError) as exc:
        raise StorageError(f"{path}: no filesystem for '{scheme(path)}://' ({str(exc).splitlines()[0]}); install "
                           "its fsspec package (adlfs for abfs://, ...)") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    if not is_uri(path):
        return pafs.LocalFileSystem(), absolute(path)
    head, _, rest = path.partition("://")
    if head.lower() in _BUCKETED and "?" not in rest:
        env = tuple(os.environ.get(name) for name in _CLIENT_ENV)
        return _bucket_filesystem(f"{head}://{rest.split('/', 1)[0]}", env), rest.rstrip("/")
    try:
        fs, inner = pafs.FileSystem.from_uri(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _fsspec_filesystem(path), rest.rstrip("/")
    return fs, inner


def rebuild(like: str, inner: str) -> str:
    """A path inside the filesystem of `like`, written in the form of `like` (a URI keeps its scheme)."""
    if not is_uri(like):
        return inner
    return f"{like.partition('://')[0]}://{inner.lstrip('/')}"


def join(root: str, *parts: str) -> str:
    """`root/part/...` for a local path or a URI (pathlib would turn `s3://b` into `s3:/b`)."""
    if not is_uri(root):
        return os.path.join(root, *parts)
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


def parent(path: str) -> str:
    if not is_uri(path):
        return os.path.dirname(path.rstrip("/")) or "."
    head, _, rest = path.rstrip("/").partition("://")
    return f"{head}://{posixpath.dirname(rest)}"


def name(path: str) -> str:
    return posixpath.basename(path.rstrip("/")) if is_uri(path) else os.path.basename(path.rstrip(os.sep))


def stem(path: str) -> str:
    return os.path.splitext(name(path))[0]


def _info(path: str) -> pafs.FileInfo:
    fs, inner = filesystem(path)
    return fs.get_file_info(inner)


def exists(path: str) -> bool:
    return _info(path).type != pafs.FileType.NotFound


def is_file(path: str) -> bool:
    return _info(path).type == pafs.FileType.File


def is_dir(path: str) -> bool:
    """A folder; on an object store, a prefix with something under it."""
    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    if info.type == pafs.FileType.Directory:
        return True
    return is_uri(path) and info.type == pafs.FileType.NotFound and bool(_listing(fs, inner, False))


def size(path: str) -> int:
    return int(_info(path).size or 0)


def stamp(path: str) -> tuple[int, str]:
    """A file's size and modification time: a file rewritten in place gets another stamp."""
    info = _info(path)
    return int(info.size or 0), str(info.mtime)


def makedirs(path: str) -> None:
    fs, inner = filesystem(path)
    fs.create_dir(inner, recursive=True)


def _listing(fs: pafs.FileSystem, inner: str, recursive: bool) -> list[pafs.FileInfo]:
    try:
        return fs.get_file_info(pafs.FileSelector(inner, recursive=recursive, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_files(folder: str, suffix: str = "", recursive: bool = True) -> list[str]:
    """Files under `folder` whose names end with `suffix`, sorted, in the form of `folder`."""
    fs, inner = filesystem(folder)
    found = [i.path for i in _listing(fs, inner, recursive)
             if i.type == pafs.FileType.File and i.base_name.endswith(suffix)]
    return sorted(rebuild(folder, p) for p in found)


def list_dirs(folder: str) -> list[str]:
    fs, inner = filesystem(folder)
    return sorted(rebuild(folder, i.path) for i in _listing(fs, inner, False) if i.type == pafs.FileType.Directory)


def file_sizes(paths: list[str]) -> dict[str, int]:
    """Sizes of several files of one filesystem in one call (one round trip where it can)."""
    if not paths:
        return {}
    fs, _ = filesystem(paths[0])
    infos = fs.get_file_info([filesystem(p)[1] for p in paths])
    return {p: int(i.size or 0) for p, i in zip(paths, infos)}


@contextlib.contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    fs, inner = filesystem(path)
    with fs.open_input_stream(inner) as stream:
        yield stream


@contextlib.contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    """A file written whole: on an object store it appears when closed; a local file's folder is made."""
    fs, inner = filesystem(path)
    if isinstance(fs, pafs.LocalFileSystem):
        os.makedirs(os.path.dirname(inner) or ".", exist_ok=True)
    with fs.open_output_stream(inner) as stream:
        yield stream


@contextlib.contextmanager
def open_text_output(path: str) -> Iterator[IO[str]]:
    with open_output(path) as stream, io.TextIOWrapper(stream, encoding="utf-8") as text:
        yield text
        text.flush()


def read_bytes(path: str) -> bytes:
    with open_input(path) as stream:
        return stream.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def text_lines(path: str, encoding: str = "utf-8") -> Iterator[str]:
    """Line by line, never the whole file in memory."""
    with open_input(path) as stream:
        yield from io.TextIOWrapper(stream, encoding=encoding, errors="replace")


def write_bytes(path: str, data: bytes) -> None:
    """Whole or not at all: a local file is written beside and renamed; an object appears on close."""
    if is_uri(path):
        with open_output(path) as out:
            out.write(data)
        return
    target = absolute(path)
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    tmp = f"{target}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, target)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def delete(path: str) -> None:
    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    if info.type == pafs.FileType.File:
        fs.delete_file(inner)
    elif info.type == pafs.FileType.Directory or is_uri(path):
        fs.delete_dir_contents(inner, missing_dir_ok=True)
        with contextlib.suppress(OSError):
            fs.delete_dir(inner)


def clear_folder(path: str) -> None:
    """An empty folder at `path` (its contents deleted when it exists)."""
    fs, inner = filesystem(path)
    if fs.get_file_info(inner).type != pafs.FileType.NotFound or is_uri(path):
        fs.delete_dir_contents(inner, missing_dir_ok=True)
    fs.create_dir(inner, recursive=True)


def move(source: str, dest: str) -> None:
    """A rename on one filesystem (atomic on local disks; a copy and delete on object stores)."""
    fs, inner = filesystem(source)
    fs.move(inner, filesystem(dest)[1])


def upload(local: str, dest: str) -> None:
    """A local file or folder copied to `dest` (a URI or another local path)."""
    fs, inner = filesystem(dest)
    if os.path.isdir(local):
        fs.create_dir(inner, recursive=True)
    pafs.copy_files(local, inner, destination_filesystem=fs)


def download(source: str, local: str) -> None:
    """A file or folder on any filesystem copied to a local path."""
    fs, inner = filesystem(source)
    if fs.get_file_info(inner).type == pafs.FileType.File:
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
    else:
        os.makedirs(local, exist_ok=True)
    pafs.copy_files(inner, local, source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())


def resolve_many(paths: list[str]) -> tuple[pafs.FileSystem | None, list[str]]:
    """(their filesystem, the paths inside it) for paths of one filesystem, e.g. a folder's listing."""
    if not paths:
        return None, []
    return filesystem(paths[0])[0], [filesystem(p)[1] for p in paths]


def for_ray(path: str) -> tuple[str, pafs.FileSystem]:
    """(path, filesystem) for Ray Data's read_*/write_* (`filesystem=`): fsspec filesystems too."""
    fs, inner = filesystem(path)
    return inner, fs


# Object stores: what to say when a path cannot be reached. Never a credential's value: only
# which variables or files were looked at and whether they were set.
_STORE_HINTS = {
    "s3": ("AWS_ENDPOINT_URL", "AWS S3's own endpoint",
           ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"],
           "~/.aws/credentials, then the node's instance role"),
    "gs": ("STORAGE_EMULATOR_HOST", "Google Cloud Storage's own endpoint", ["GOOGLE_APPLICATION_CREDENTIALS"],
           "gcloud's application-default credentials, then the node's service account"),
}
_REASONS = [("NO_SUCH_BUCKET", "the bucket does not exist"), ("NoSuchBucket", "the bucket does not exist"),
            ("To create buckets", "the bucket does not exist"),
            ("ACCESS_DENIED", "access denied"), ("AccessDenied", "access denied"), ("403", "access denied"),
            ("NETWORK_CONNECTION", "the endpoint cannot be reached"), ("curlCode", "the endpoint cannot be reached"),
            ("credentials", "no credentials were found"), ("InvalidAccessKeyId", "the access key is not known"),
            ("SignatureDoesNotMatch", "the secret key does not match")]


def bucket(path: str) -> str:
    return path.partition("://")[2].split("/", 1)[0] if is_uri(path) else ""


def is_placeholder(path: str) -> bool:
    """A bucket left as the shipped configs write it (`s3://YOUR-BUCKET/...`): S3 and GCS bucket
    names have no capitals, and no real one is called your-bucket."""
    name_ = bucket(path)
    return bool(name_) and (name_ != name_.lower() or "your-bucket" in name_.lower() or "<" in name_)


def unreachable_endpoint(path: str, timeout_s: float = 3.0) -> StorageError | None:
    """For an s3:// path with an endpoint set (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), an error when
    nothing answers there: one TCP connect, instead of the S3 client's retries with backoff (about
    ten seconds before the same answer)."""
    import socket
    from urllib.parse import urlparse

    url = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if scheme(path) != "s3" or not url:
        return None
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        return StorageError(f"NETWORK_CONNECTION: {url}: {exc}")
    return None


def access_problem(path: str, exc: BaseException) -> str:
    """One line on why `path` could not be used: for an object store, the bucket, the endpoint
    and where credentials were looked for (which of those variables are set, never their values)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    kind = scheme(path)
    hint = _STORE_HINTS.get("gs" if kind == "gcs" else kind)
    if hint is None:
        return f"{path}: {getattr(exc, 'strerror', None) or text}"
    endpoint_var, default_endpoint, variables, elsewhere = hint
    reason = next((why for marker, why in _REASONS if marker in text), text)
    endpoint = os.environ.get(endpoint_var) or default_endpoint
    set_vars = [v for v in variables if os.environ.get(v)]
    return (f"{path}: {reason} (bucket {bucket(path)!r}, endpoint {endpoint}; credentials looked for in "
            f"{', '.join(variables)} (set: {', '.join(set_vars) or 'none'}), {elsewhere})")
