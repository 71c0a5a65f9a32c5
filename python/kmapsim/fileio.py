"""Reading and writing the small TOML and JSON files kmapsim uses (scenario files, sweep grids).

Every way a file can fail to read (missing, a directory, not UTF-8, not valid TOML or JSON, a
JSON top level that is not an object, a key given twice, a suffix that names no format) becomes a
`ScenarioFileError` whose message names the path and, for a parse error, the line and column the
parser reports, so that the command line can print it on one line. Writing TOML needs a writer
the standard library lacks; `toml_dumps` is a tiny one for flat tables of ints, floats, strings
and bools, which is all that scenarios hold.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from kmapsim.errors import ScenarioFileError

__all__ = [
    "FORMATS",
    "file_format",
    "read_document",
    "toml_dumps",
    "toml_key",
    "toml_module",
    "toml_string",
    "toml_value",
]

#: File formats by suffix (compared in lower case).
FORMATS: Mapping[str, Literal["toml", "json"]] = {".toml": "toml", ".json": "json"}

Format = Literal["toml", "json"]


def file_format(path: str | os.PathLike[str], field: str = "file") -> Format:
    """``"toml"`` or ``"json"``, from the suffix of ``path``; any other suffix is an error."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        pass
    got = f"the suffix {suffix!r}" if suffix else "no suffix"
    raise ScenarioFileError.at(
        path, f"{path} has {got}", "a file ending in " + " or ".join(FORMATS), field
    )


def toml_module(field: str = "file") -> Any:
    """tomllib (Python 3.11+), else tomli if installed, else a ScenarioFileError saying so."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    else:  # pragma: no cover - Python 3.10 only
        try:
            import tomli  # type: ignore[import-not-found, unused-ignore]

            return tomli
        except ImportError as e:
            raise ScenarioFileError.at(
                "",
                "reading TOML needs Python 3.11 or the tomli package",
                "Python 3.11+, or pip install tomli",
                field,
            ) from e


def read_document(
    path: str | os.PathLike[str], *, field: str = "file", fmt: Format | None = None
) -> dict[str, Any]:
    """The top-level table of a TOML or JSON file (``fmt``, by default from the suffix).

    Raises `ScenarioFileError` (with ``field``) for a file that cannot be read, is not UTF-8
    (a UTF-8 byte-order mark is allowed), does not parse, or whose JSON top level is not an
    object or repeats a key. An empty (or blank) file gives an empty dict: whether that is an
    error is the caller's business.
    """
    p = Path(path)
    kind = fmt if fmt is not None else file_format(p, field)
    if p.is_dir():
        raise ScenarioFileError.at(p, f"{p} is a directory", f"a {kind.upper()} file", field)
    try:
        raw = p.read_bytes()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ScenarioFileError.at(
            p, f"cannot read {p}: {reason}", f"a readable {kind.upper()} file", field
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, column = _line_column(raw, e.start)
        raise ScenarioFileError.at(
            p,
            f"{p} is not UTF-8 text: byte 0x{raw[e.start]:02x} (at line {line}, column {column})",
            "a UTF-8 text file",
            field,
        ) from None
    if not text.strip():
        return {}
    if kind == "toml":
        return _parse_toml(p, text, field)
    return _parse_json(p, text, field)


def _line_column(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of ``offset``."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _parse_toml(path: Path, text: str, field: str) -> dict[str, Any]:
    toml = toml_module(field)
    try:
        doc: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as e:
        # The message ends with "(at line L, column C)" or "(at end of document)".
        raise ScenarioFileError.at(
            path, f"{path} is not valid TOML: {e}", "a valid TOML file", field
        ) from None
    return doc


def _parse_json(path: Path, text: str, field: str) -> dict[str, Any]:
    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ScenarioFileError.at(
                    path, f"{path} gives the key {key!r} twice", "each key once", field
                )
            out[key] = value
        return out

    try:
        doc = json.loads(text, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as e:
        where = f"(at line {e.lineno}, column {e.colno})"
        raise ScenarioFileError.at(
            path, f"{path} is not valid JSON: {e.msg} {where}", "a valid JSON file", field
        ) from None
    if not isinstance(doc, dict):
        raise ScenarioFileError.at(
            path,
            f"{path} holds a JSON {_json_kind(doc)} at the top level",
            "a JSON object of keys to values",
            field,
        )
    return doc


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


# -- writing TOML ---------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_dumps(values: Mapping[str, object], comments: Iterable[str] = ()) -> str:
    """``values`` as a flat TOML document: ``# comment`` lines, then one ``key = value`` line
    per item, in order. Values may be ints, floats, strings and bools; floats are written with
    `repr`, so that reading the file gives back the very same float. Anything else (a list, a
    table, None) is a TypeError: the writer is only as big as scenarios need."""
    lines = ["# " + " ".join(c.splitlines()) if c else "#" for c in comments]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def toml_key(key: str) -> str:
    """A bare key if TOML allows one, else a quoted key."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: object) -> str:
    """One TOML value: an int, float, string or bool."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        # repr is the shortest text that reads back as the same float, and always has a "." or
        # an exponent ("700.0", "0.1", "1e-05", "1e+16"), as TOML floats must.
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a TOML value")


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
