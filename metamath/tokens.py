"""Counting prompt tokens offline, for a plan: the best counter this machine has for a model.

In order: a Hugging Face tokenizer (a local folder, the embedded model, or `teacher.tokenizer`),
counting the chat template exactly; tiktoken's encoding for the model when tiktoken and its
encoding files are here (no download is attempted); else about 4 characters per token. The
counter says which one it is, and the plan prints it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4  # tokens a chat format adds around each message (OpenAI's documented figure)


@dataclass
class TokenCounter:
    method: str  # what counts, in words (printed with the plan)
    encode: Callable[[str], int]  # tokens in a text
    template: Callable[[list[dict]], int] | None = None  # tokens of a whole chat prompt, exactly
    exact: bool = False
    _overheads: dict[tuple, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.text = functools.lru_cache(maxsize=200_000)(self.encode)

    def prompt(self, messages: list[dict] | str) -> int:
        """Tokens of a raw prompt or a chat prompt. A chat prompt's template overhead is measured
        once per shape (its roles) and added to the cached counts of its contents, so thousands
        of few-shot prompts that share their exemplars cost one count of each text."""
        if isinstance(messages, str):
            return self.text(messages)
        contents = sum(self.text(m["content"]) for m in messages)
        shape = tuple(m["role"] for m in messages)
        if shape not in self._overheads:
            whole = self.template(messages) if self.template else contents + MESSAGE_OVERHEAD * len(messages) + 3
            self._overheads[shape] = max(0, whole - contents)
        return contents + self._overheads[shape]


def _hf_counter(folder: str, label: str) -> TokenCounter:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    encode = lambda text: len(tokenizer.encode(text, add_special_tokens=False))  # noqa: E731
    template = None
    if getattr(tokenizer, "chat_template", None):
        def template(messages: list[dict]) -> int:  # the rendered prompt's tokens, as a server counts them
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return len(tokenizer.encode(text, add_special_tokens=False))
    return TokenCounter(f"tokenizer of {label}" + (" with its chat template" if template else ""), encode, template, True)


def _tiktoken_counter(model: str) -> TokenCounter | None:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        encoding = tiktoken.encoding_for_model(model)
    except Exception:  # noqa: BLE001 - unknown model, or its encoding file is not on disk (offline)
        return None
    count = lambda text: len(encoding.encode(text, disallowed_special=()))  # noqa: E731
    return TokenCounter(f"tiktoken {encoding.name} (+{MESSAGE_OVERHEAD} per message)", count)


def approximate_counter() -> TokenCounter:
    return TokenCounter(f"approximation: {CHARS_PER_TOKEN} characters per token (+{MESSAGE_OVERHEAD} per message)",
                        lambda text: -(-len(text) // CHARS_PER_TOKEN))


def _local_folder(name: str) -> str | None:
    from metamath.models import EMBEDDED, resolve_model

    if name == EMBEDDED:
        return resolve_model(name, tokenizer_only=True)
    path = Path(name).expanduser()
    return str(path) if (path / "tokenizer_config.json").is_file() or (path / "tokenizer.json").is_file() else None


def token_counter(model: str, tokenizer: str | None = None) -> TokenCounter:
    """The best offline counter for `model` (`tokenizer` names one explicitly)."""
    if tokenizer:
        folder = _local_folder(tokenizer)
        if folder is None:
            from metamath.errors import ConfigError

            raise ConfigError(f"teacher.tokenizer {tokenizer!r}: no tokenizer there (a local folder with "
                              "tokenizer.json, or the embedded model's name)")
        return _hf_counter(folder, tokenizer)
    folder = _local_folder(model)
    if folder is not None:
        return _hf_counter(folder, model)
    return _tiktoken_counter(model) or approximate_counter()
