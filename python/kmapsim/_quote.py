"""`quote`: a user's value as it should appear in an error message, short whatever it is.

Error messages quote what was given, but what was given can be a 200 MB string, a list of a
million items or an integer of a million digits. ``repr`` would copy all of it into the message
(and Python refuses to turn an integer of more than 4300 digits into text at all), so every
message that shows a user's value goes through `quote`.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable

from kmapsim import _core

__all__ = ["QUOTE_LIMIT", "did_you_mean", "quote"]

#: Characters of a quoted value that an error message shows before cutting it short.
QUOTE_LIMIT = 80

#: Above this many bits an integer is described by its size, not written out: converting a huge
#: integer to decimal is slow, and refused above sys.get_int_max_str_digits() digits.
_INT_BITS = 256


class _Repr(reprlib.Repr):
    """reprlib cuts strings before repr'ing them and stops after a few items and levels of
    nesting, so neither a huge container nor a deeply nested one is ever expanded in full."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxstring = self.maxother = self.maxlong = limit
        self.maxlevel = 3

    def repr_int(self, x: int, level: int) -> str:
        # reprlib's own would call repr(), which fails on huge integers.
        return _quote_int(x, self.maxlong)


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, or, if that is longer than ``limit`` characters, its start followed by
    ``...`` and the original length (``'xxxx...' (200000000 chars)``).

    For strings, bytes, integers and the built-in containers this costs time and memory in
    proportion to ``limit``, not to the size of ``value``. Never raises: a value whose ``repr``
    fails is shown by its type.
    """
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return _quote_int(value, limit)
    if isinstance(value, (str, bytes, bytearray)):
        return _quote_text(value, limit)
    try:
        text = _Repr(limit).repr(value)
    except Exception:  # a broken __repr__ (reprlib catches most, not all of them)
        return f"<{type(value).__name__}>"
    # Some reprs (numpy arrays, DataFrames) span lines; a message stays on one.
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 3, 1)] + "..."


def _quote_int(value: int, limit: int) -> str:
    bits = value.bit_length()
    if bits <= _INT_BITS:
        text = repr(value)
        if len(text) <= limit:
            return text
    digits = int(bits * math.log10(2)) + 1
    sign = "-" if value < 0 else ""
    return f"<{sign}integer of about {digits} digits>"


def _quote_text(value: str | bytes | bytearray, limit: int) -> str:
    # Slicing first keeps the copy small; repr can make a character up to 10 characters long.
    head = repr(value[:limit])
    if len(value) <= limit and len(head) <= limit:
        return head
    unit = "chars" if isinstance(value, str) else "bytes"
    return f"{head[: max(limit - 3, 1)]}... ({len(value)} {unit})"


def did_you_mean(word: object, names: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the name of ``names`` nearest to ``word``, or ``""`` (also
    for a ``word`` that is no string). The engine's `closest` picks it, as for its own errors:
    case is compared last, so ``Async`` suggests ``async``, never ``sync``."""
    if not isinstance(word, str):
        return ""
    best = _core.closest(word, list(names))
    return f" (did you mean {best!r}?)" if best is not None else ""


def shown_path(path: object) -> str:
    """A path as kmapsim prints it on a line: as it is, or quoted (``repr``) if it holds a
    line break or another character that does not print, or is blank, so that the line names
    it whole."""
    import os

    text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    return text if text.isprintable() and text.strip() else quote(text, 4 * len(text) + 2)


def shell_word(text: str) -> str:
    """``text`` as one word of a POSIX shell command line: `shlex.quote`, or bash's ``$'...'``
    with escapes when it holds a character that does not print (a line break would split the
    printed command)."""
    import shlex

    if text.isprintable():
        return shlex.quote(text)
    escaped = "".join(
        c if c.isprintable() and c not in "\\'" else repr(c)[1:-1] if c != "'" else "\\'"
        for c in text
    )
    return f"$'{escaped}'"
