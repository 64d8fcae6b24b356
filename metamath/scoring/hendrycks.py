"""Hendrycks et al.'s MATH answer normalisation (`strip_string` / `is_equiv`), re-implemented.

The `paper` scorer must reproduce the published rules exactly, quirks included, so that
accuracies compare with the MetaMath paper: no symbolic check, just string equality after
these rewrites. Where the original raised (an unexpected shape), equality falls back to
the raw strings, as the original did.
"""

from __future__ import annotations


class _Unnormalisable(Exception):
    pass


def _brace_frac_args(rest: str) -> str:
    """Rewrite what follows one `\\frac` so both arguments are braced: `12` -> `{1}{2}`."""
    if rest[0] == "{":  # IndexError on an empty rest, as in the original
        return rest
    if len(rest) < 2:
        raise _Unnormalisable(rest)
    a, b = rest[0], rest[1]
    if b == "{":
        return "{" + a + "}" + rest[1:]
    return "{" + a + "}{" + b + "}" + rest[2:]


def fix_fracs(text: str) -> str:
    pieces = text.split("\\frac")
    out = pieces[0]
    for piece in pieces[1:]:
        try:
            out += "\\frac" + _brace_frac_args(piece)
        except _Unnormalisable:
            return text
    return out


def fix_a_slash_b(text: str) -> str:
    parts = text.split("/")
    if len(parts) != 2:
        return text
    a, b = int(parts[0]), int(parts[1])  # ValueError escapes: raw comparison, as the original
    if text != f"{a}/{b}":
        return text
    return "\\frac{" + str(a) + "}{" + str(b) + "}"


def remove_right_units(text: str) -> str:
    if "\\text{ " in text:
        parts = text.split("\\text{ ")
        if len(parts) != 2:
            raise _Unnormalisable(text)
        return parts[0]
    return text


def fix_sqrt(text: str) -> str:
    if "\\sqrt" not in text:
        return text
    pieces = text.split("\\sqrt")
    out = pieces[0]
    for piece in pieces[1:]:
        if piece[0] != "{":  # IndexError on a trailing \\sqrt, as the original
            piece = "{" + piece[0] + "}" + piece[1:]
        out += "\\sqrt" + piece
    return out


_SIMPLE_REPLACEMENTS = (
    ("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
    ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", ""),
)


def strip_string(text: str) -> str:
    for old, new in _SIMPLE_REPLACEMENTS:
        text = text.replace(old, new)
    text = remove_right_units(text)
    text = text.replace("\\%", "")
    text = text.replace(" .", " 0.").replace("{.", "{0.")
    if not text:
        return text
    if text[0] == ".":
        text = "0" + text
    sides = text.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:  # "k = 3" -> "3"
        text = sides[1]
    text = fix_sqrt(text).replace(" ", "")
    text = fix_fracs(text)
    if text == "0.5":
        text = "\\frac{1}{2}"
    return fix_a_slash_b(text)


def is_equiv(a: str | None, b: str | None) -> bool:
    if a is None and b is None:
        return True
    if a is None or b is None:
        return False
    try:
        return strip_string(a) == strip_string(b)
    except Exception:  # the original's fallback for any shape it cannot normalise
        return a == b
