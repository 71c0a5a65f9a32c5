"""Reading and writing the small TOML and JSON files kmapsim uses (scenario files, sweep grids).

The rule for every input file kmapsim reads (scenario files, ``--grid-file`` sweep grids,
replay CSV operation lists):

- Anything wrong with the file *as a file* raises `ScenarioFileError` (a `ScenarioError`),
  whose ``path`` is the file, ``field`` ``"file"`` (scenario files), ``"--grid-file"`` or
  ``"replay"``, and whose message names the path and, where known, the line (and column):
  missing, unreadable, not a regular file, too large, not UTF-8, a syntax error, the wrong
  shape (a JSON top level that is not an object, nesting too deep, a table where a flat key
  is due, a grid entry that is not a non-empty array, a CSV without header), an unknown key,
  table or column (named, with "did you mean" where close), a key given twice, a ragged CSV
  row, a suffix that names no format. A "path" that is no path at all (None, a number, a
  list: anything but a `str`, `bytes` or `os.PathLike`) is such a fault too (`as_path`), with
  ``path`` ``""``. A `bytes` path is accepted and decoded with `os.fsdecode`, as the `os`
  functions do; one that does not decode (possible only on Windows) is refused.
- A well-formed file whose *values* are wrong (out of range, of the wrong type, an unknown
  choice or preset name, fields that break a rule spanning them) raises the plain
  `ScenarioError` of that field, as the Python call would (same ``field``, ``problem`` and
  ``allowed``), its message naming the file (and the key, or the CSV line).

So ``except ScenarioFileError`` catches a file to fix or replace, and ``except ScenarioError``
also catches a value to change. Here: every way a TOML or JSON file can fail to read becomes a
`ScenarioFileError`, on one line, so that the command line can print it. `read_file_bytes` and
`decode_utf8` are the first two steps, shared with the CSV reader of `kmapsim.replay`.

Writing TOML needs a writer the standard library lacks; `toml_dumps` is a tiny one for flat
tables of ints, floats, strings and bools, plus arrays of such tables (``[[program]]``, the
steps of a scenario's custom program), which is all that scenarios hold.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

from kmapsim._quote import quote
from kmapsim.errors import ScenarioFileError

__all__ = [
    "FORMATS",
    "MAX_DOCUMENT_BYTES",
    "MAX_NESTING",
    "PATH_ALLOWED",
    "as_path",
    "decode_utf8",
    "file_format",
    "read_document",
    "read_file_bytes",
    "toml_dumps",
    "toml_key",
    "toml_module",
    "toml_string",
    "toml_value",
]

#: File formats by suffix (compared in lower case).
FORMATS: Mapping[str, Literal["toml", "json"]] = {".toml": "toml", ".json": "json"}

#: The largest scenario or grid file read (64 MiB): real ones are a few kB, and a limit keeps a
#: wrong path (a disk image, /dev/zero) from being read until memory runs out.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

#: The deepest nesting of arrays and tables a scenario or grid file may have. Real files nest
#: 3 levels ([grid] -> a list -> values); a limit keeps deep structures from reaching code that
#: recurses (and from the parsers' own RecursionError).
MAX_NESTING = 32

Format = Literal["toml", "json"]

#: What `as_path` accepts, as its errors say.
PATH_ALLOWED = "a path (str or os.PathLike; bytes decoded with os.fsdecode)"


def as_path(path: object, field: str = "file") -> Path:
    """``path`` as a `Path`: a `str`, an `os.PathLike` or `bytes` (decoded with `os.fsdecode`).

    Anything else (None, a number, a list, a dict) raises `ScenarioFileError` with ``field``,
    ``.path`` ``""`` and a message saying a path is expected, instead of pathlib's bare
    `TypeError`; so does a `bytes` path that does not decode, and an empty path (which pathlib
    reads as ".")."""
    try:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)  # a str or bytes; a bad __fspath__ raises TypeError
        if isinstance(path, bytes):
            path = os.fsdecode(path)
    except (TypeError, UnicodeDecodeError) as e:
        problem = f"{quote(path, 40)} (type {type(path).__name__}) is no path: {e}"
        raise ScenarioFileError.at("", problem, PATH_ALLOWED, field) from None
    if not isinstance(path, str):
        problem = f"got {quote(path, 40)} (type {type(path).__name__}), not a path"
        raise ScenarioFileError.at("", problem, PATH_ALLOWED, field)
    if not path:
        # `Path("")` is ".", the current directory: never what an empty name meant.
        raise ScenarioFileError.at("", "an empty path", PATH_ALLOWED, field)
    return Path(path)


def file_format(path: str | os.PathLike[str], field: str = "file") -> Format:
    """``"toml"`` or ``"json"``, from the suffix of ``path``; any other suffix is an error, as
    is a ``path`` that is no path (`as_path`)."""
    path = as_path(path, field)
    suffix = path.suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        pass
    got = f"the suffix {quote(suffix)}" if suffix else "no suffix"
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


def read_file_bytes(
    path: str | os.PathLike[str], *, limit: int, field: str = "file", kind: str = "file"
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises `ScenarioFileError` (with ``field``, the path in the message, ``kind`` in what is
    allowed) for a path that does not exist or cannot be read, one that is not a regular file
    (a directory, a FIFO, a device; refused before it is opened, since reading a FIFO waits for
    a writer for ever and a device such as /dev/zero never ends), or a file larger than
    ``limit`` bytes; and for a ``path`` that is no path (`as_path`).
    """
    p = as_path(path, field)
    what = f"a readable {kind} (a regular file of at most {_size(limit)})"

    def refuse(problem: str) -> ScenarioFileError:
        return ScenarioFileError.at(p, problem, what, field)

    def unreadable(e: OSError | ValueError) -> ScenarioFileError:
        if isinstance(e, ValueError):  # what os.stat raises for a path with a NUL character
            return refuse(f"cannot read {quote(str(p))}: the path contains a NUL character")
        return refuse(f"cannot read {p}: {e.strerror or type(e).__name__}")

    try:
        info = os.stat(p)
    except (OSError, ValueError) as e:
        raise unreadable(e) from None
    _check_regular(p, info, limit, refuse)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open() must not wait.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise unreadable(e) from None
    with os.fdopen(fd, "rb") as fh:
        _check_regular(p, os.fstat(fh.fileno()), limit, refuse)
        try:
            # One byte past the limit tells a file that grew since the stat from one that did
            # not (or a /proc file, whose size stat reports as 0).
            data: bytes | None = fh.read(limit + 1)
        except OSError as e:
            raise unreadable(e) from None
    if data is None:  # what a read that would block returns, given O_NONBLOCK
        raise refuse(f"cannot read {p}: it has no data ready")
    if len(data) > limit:
        raise refuse(f"{p} is larger than {_size(limit)}")
    return data


def _check_regular(
    p: Path, info: os.stat_result, limit: int, refuse: Callable[[str], ScenarioFileError]
) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise refuse(f"{p} is {_file_type(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise refuse(f"{p} is larger than {_size(limit)} ({info.st_size} bytes)")


def _file_type(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _size(n: int) -> str:
    """``64 MiB`` for a limit in bytes that is a whole number of MiB, else ``N bytes``."""
    mib = 1024 * 1024
    return f"{n // mib} MiB" if n >= mib and n % mib == 0 else f"{n} bytes"


def decode_utf8(path: str | os.PathLike[str], raw: bytes, field: str = "file") -> str:
    """``raw`` as UTF-8 text (a leading byte-order mark dropped), or a `ScenarioFileError`
    naming ``path``, the first bad byte and its line and column."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, column = _line_column(raw, e.start)
        where = f"(at line {line}, column {column})"
        raise ScenarioFileError.at(
            path,
            f"{path} is not UTF-8 text: byte 0x{raw[e.start]:02x} {where}",
            "a UTF-8 text file",
            field,
        ) from None


def read_document(
    path: str | os.PathLike[str], *, field: str = "file", fmt: Format | None = None
) -> dict[str, Any]:
    """The top-level table of a TOML or JSON file (``fmt``, by default from the suffix).

    Raises `ScenarioFileError` (with ``field``) for a file that `read_file_bytes` refuses (with
    the limit `MAX_DOCUMENT_BYTES`), that is not UTF-8 (a UTF-8 byte-order mark is allowed),
    does not parse, nests arrays or tables more than `MAX_NESTING` deep, holds an integer too
    long for Python to convert (``sys.get_int_max_str_digits()``), or whose JSON top level is
    not an object or repeats a key. An empty (or blank) file gives an empty dict: whether that
    is an error is the caller's business. A ``path`` that is no path raises as in `as_path`.
    """
    p = as_path(path, field)
    kind = fmt if fmt is not None else file_format(p, field)
    raw = read_file_bytes(p, limit=MAX_DOCUMENT_BYTES, field=field, kind=f"{kind.upper()} file")
    text = decode_utf8(p, raw, field)
    if not text.strip():
        return {}
    doc = _parse_toml(p, text, field) if kind == "toml" else _parse_json(p, text, field)
    _check_nesting(p, doc, field)
    return doc


def _line_column(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of ``offset``."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _too_deep(path: Path, field: str) -> ScenarioFileError:
    return ScenarioFileError.at(
        path,
        f"{path} nests arrays or tables more than {MAX_NESTING} levels deep",
        f"at most {MAX_NESTING} levels of nesting (scenario files are flat)",
        field,
    )


def _long_integer(path: Path, text: str, field: str) -> ScenarioFileError:
    """The error for an integer literal longer than Python converts; the parsers say neither
    which nor where, so find the first such run of digits (TOML allows ``_`` between them)."""
    limit = sys.get_int_max_str_digits()
    found = re.search(rf"[0-9](?:_?[0-9]){{{limit},}}", text) if limit else None
    where = ""
    if found:
        start = found.start()
        line = text.count("\n", 0, start) + 1
        column = start - text.rfind("\n", 0, start)
        where = f" (at line {line}, column {column})"
    return ScenarioFileError.at(
        path,
        f"{path} holds an integer of more than {limit} digits{where}",
        f"integers of at most {limit} digits",
        field,
    )


def _parse_toml(path: Path, text: str, field: str) -> dict[str, Any]:
    toml = toml_module(field)
    try:
        doc: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as e:
        # The message ends with "(at line L, column C)" or "(at end of document)".
        raise ScenarioFileError.at(
            path, f"{path} is not valid TOML: {e}", "a valid TOML file", field
        ) from None
    except RecursionError:
        raise _too_deep(path, field) from None
    except ValueError:  # int() refusing a literal of more than sys.get_int_max_str_digits()
        raise _long_integer(path, text, field) from None
    return doc


def _parse_json(path: Path, text: str, field: str) -> dict[str, Any]:
    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ScenarioFileError.at(
                    path, f"{path} gives the key {quote(key)} twice", "each key once", field
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
    except RecursionError:
        raise _too_deep(path, field) from None
    except ScenarioFileError:
        raise
    except ValueError:  # int() refusing a literal of more than sys.get_int_max_str_digits()
        raise _long_integer(path, text, field) from None
    if not isinstance(doc, dict):
        raise ScenarioFileError.at(
            path,
            f"{path} holds a JSON {_json_kind(doc)} at the top level",
            "a JSON object of keys to values",
            field,
        )
    return doc


def _check_nesting(path: Path, doc: object, field: str) -> None:
    """A `ScenarioFileError` if ``doc`` nests lists and dicts more than `MAX_NESTING` deep.
    Iterative, so that the check itself cannot overflow the stack."""
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[object] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_NESTING:
            raise _too_deep(path, field)
        stack.extend((child, depth + 1) for child in children)


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
    """``values`` as a TOML document: ``# comment`` lines, then one ``key = value`` line per
    item, in order. Values may be ints, floats, strings and bools; floats are written with
    `repr`, so that reading the file gives back the very same float. A value that is a
    non-empty list of mappings of such values is an array of tables, written after every
    ``key = value`` line (as TOML requires) as one ``[[key]]`` table per mapping. Anything else
    (another list, a table, None) is a TypeError: the writer is only as big as scenarios need."""
    lines = ["# " + " ".join(c.splitlines()) if c else "#" for c in comments]
    arrays = {k: v for k, v in values.items() if _table_array(v)}
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items() if k not in arrays]
    for key, tables in arrays.items():
        for table in cast("Sequence[Mapping[str, object]]", tables):
            lines += ["", f"[[{toml_key(key)}]]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _table_array(value: object) -> bool:
    """Whether ``value`` is written as an array of tables: a non-empty list (or tuple) of
    mappings."""
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
    )


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
    raise TypeError(f"cannot write {type(value).__name__} {quote(value)} as a TOML value")


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


def csv_lines(text: str) -> Iterator[str]:
    """The physical lines of CSV ``text`` for `csv.reader`, one for each line of the file (a
    comment or blank line as ``""``, so that the reader's ``line_num`` is the file's line):
    ``#`` starts a comment to the end of the line, and each line is stripped but keeps its end,
    so that a quoted field spanning lines keeps its newline (an error quotes it as given)."""
    if "#" in text:
        for line in io.StringIO(text, newline="\n"):
            yield line.split("#", 1)[0].strip() + ("\n" if line.endswith("\n") else "")
    else:
        for line in io.StringIO(text, newline="\n"):
            yield line.strip() + ("\n" if line.endswith("\n") else "")
