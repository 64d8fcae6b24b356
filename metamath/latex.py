"""Small LaTeX helpers shared by data loading, scoring and masking. Pure string code."""

from __future__ import annotations

import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")


def _matched_group(text: str, open_at: int) -> int | None:
    """Index of the `}` that closes the `{` at `open_at`, or None when unbalanced."""
    depth = 0
    i = open_at
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # skip escaped characters such as \{ and \}
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{}`), braces matched; `\\boxed 5` too."""
    matches = list(_BOX_RE.finditer(text))
    for match in reversed(matches):
        start = match.end()
        if start < len(text) and text[start] == "{":
            end = _matched_group(text, start)
            if end is not None:
                return text[start + 1 : end]
        elif match.group(0).endswith(" ") or text[match.start() : start].strip() == "\\boxed":
            token = re.match(r"[^\s$.,;]+", text[start:])
            if token:
                return token.group(0)
    return None


# $$...$$, $...$, \(...\), \[...\]; `\$` is a literal dollar, not a delimiter.
_MATH_RE = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$.+?(?<!\\)\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)


def math_spans(text: str) -> list[tuple[int, int]] | None:
    """(start, end) of every LaTeX math span, or None when `$` delimiters are unbalanced."""
    spans = [m.span() for m in _MATH_RE.finditer(text)]
    outside = _MATH_RE.sub("", text)
    if re.search(r"(?<!\\)\$", outside):
        return None
    return spans
