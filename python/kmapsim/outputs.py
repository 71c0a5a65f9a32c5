"""Checking and writing output files and directories, for the Python writers and the command line.

One rule for every file kmapsim writes (`Scenario.to_file`, `SweepResult.to_parquet` and
``to_csv``, `kmapsim.perfetto.write`, `kmapsim.replay.write_ops`, the plots' and the study's
directories, `kmapsim.checker.Witness.save`, and the command line's outputs): the path is
checked before anything is written, and a fault is a `ScenarioFileError` whose ``.path`` is the
path and whose message says what is wrong and what is allowed:

- a file: not a directory, a suffix naming the format written (`output_file`: ``.parquet`` or
  ``.pq`` for Parquet, ``.csv``, ``.json``, ``.toml``), its directory existing and writable,
  and, if it exists, a regular file that is writable;
- a directory (`output_dir`): a writable directory, or a new one in an existing, writable
  directory; none of the files it will hold is a directory or read-only.

An `OSError` while writing (a full disk, a permission changed meanwhile) becomes the same error,
naming the path, with the `OSError` as its cause (`writing`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kmapsim._quote import quote, shown_path
from kmapsim.errors import KmapsimError, ScenarioFileError
from kmapsim.fileio import _file_type, as_path

__all__ = [
    "PARQUET_SUFFIXES",
    "SCENARIO_SUFFIXES",
    "TABLE_SUFFIXES",
    "TRACE_SUFFIXES",
    "Files",
    "distinct",
    "output_dir",
    "output_file",
    "replacing",
    "writable_dir",
    "writing",
]

PARQUET_SUFFIXES = (".parquet", ".pq")
TABLE_SUFFIXES = (*PARQUET_SUFFIXES, ".csv")
SCENARIO_SUFFIXES = (".toml", ".json")
TRACE_SUFFIXES = (".json",)


def _given(path: Any) -> str:
    """``path`` as given, as text (after `as_path` accepted it): ``Path("")`` would be ``.``."""
    return os.fsdecode(os.fspath(path))


def _reason(e: OSError) -> str:
    return e.strerror or str(e).strip().split("\n")[0] or type(e).__name__


def writable_dir(field: str, directory: Path, target: object) -> None:
    """``directory`` (where ``target`` goes) exists, is a directory, and a file can be created
    in it: tried for real, since permission bits do not tell (root, read-only mounts, ACLs)."""
    allowed = "a path in an existing, writable directory"

    def refuse(problem: str) -> ScenarioFileError:
        return ScenarioFileError.at(target, problem, allowed, field)

    try:
        if not directory.exists():
            raise refuse(f"the directory {directory} of {target} does not exist")
        if not directory.is_dir():
            raise refuse(f"{directory} (in {target}) is not a directory")
        tempfile.TemporaryFile(dir=directory, prefix=".kmapsim-check-").close()
    except OSError as e:
        raise refuse(f"cannot write in {directory}: {_reason(e)}") from e


def output_file(field: str, path: object, suffixes: Sequence[str], allowed: str) -> Path:
    """The file ``path`` names, checked for writing (module doc): not a directory, a suffix in
    ``suffixes`` (lower case), in a writable directory, and writable if it exists."""
    p = as_path(path, field)
    raw = _given(path)  # "out/" is a directory, even one that does not exist
    if not raw:
        raise ScenarioFileError.at("", "an empty path", allowed, field)
    try:
        if raw.endswith(("/", os.sep)) or p.is_dir():
            raise ScenarioFileError.at(p, f"{shown_path(raw)} is a directory", allowed, field)
        if p.suffix.lower() not in suffixes:
            got = f"the suffix {quote(p.suffix)}" if p.suffix else "no suffix"
            raise ScenarioFileError.at(p, f"{p} has {got}", allowed, field)
        regular_or_absent(field, p, allowed)
        writable_dir(field, p.parent, p)
        if p.exists() and not os.access(p, os.W_OK):
            raise ScenarioFileError.at(p, f"{p} exists and is read-only", allowed, field)
    except OSError as e:  # a name too long, a loop of symbolic links
        raise ScenarioFileError.at(p, f"{p}: {_reason(e)}", allowed, field) from e
    return p


def regular_or_absent(field: str, path: Path, allowed: str) -> None:
    """An output ``path`` that exists must be a regular file (or a link to one): the write
    replaces it, and a FIFO, device or socket replaced by a file is lost (a directory too)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        problem = f"{path} is {_file_type(mode)}, not a regular file"
        raise ScenarioFileError.at(path, problem, allowed, field)


def output_dir(field: str, path: object, files: Sequence[str]) -> Path:
    """The directory ``path`` names, checked (module doc): a writable directory, or a new one in
    a writable directory; none of the ``files`` it will hold is a directory or read-only."""
    allowed = "a writable directory, or a new one in an existing directory"
    p = as_path(path, field)
    if not _given(path):
        raise ScenarioFileError.at("", "an empty path", allowed, field)
    try:
        if p.exists() and not p.is_dir():
            raise ScenarioFileError.at(p, f"{p} exists and is not a directory", allowed, field)
        if not p.is_dir():
            writable_dir(field, p.parent, p)
            return p
        writable_dir(field, p, p)
        for name in files:
            regular_or_absent(field, p / name, f"{name} as a regular file, or absent")
            if (p / name).exists() and not os.access(p / name, os.W_OK):
                raise ScenarioFileError.at(p, f"{p / name} exists and is read-only", allowed, field)
    except OSError as e:
        raise ScenarioFileError.at(p, f"{p}: {_reason(e)}", allowed, field) from e
    return p


@contextlib.contextmanager
def writing(field: str, path: Path) -> Iterator[None]:
    """An OSError in the block is a failure to write ``path``: a `ScenarioFileError` naming it,
    caused by the OSError. (Not a closed stdout, nor `WallClockExceeded`, which is a
    TimeoutError, hence an OSError.) A writer's own such error, about a file other than
    ``path`` (the temporary file of `replacing`), is told as one about ``path``; one naming
    ``path`` (or a file in it) by another field, the writer's parameter, is told by ``field``."""
    try:
        yield
    except BrokenPipeError:
        raise
    except ScenarioFileError as e:
        cause = e.__cause__
        if isinstance(cause, OSError) and e.path != str(path) and e.problem.startswith("cannot"):
            raise _cannot_write(field, path, cause) from cause
        if e.field != field and e.path and _inside_or_same(Path(e.path), path):
            # A writer's own parameter name (``outdir``): told by the caller's (``--plots``).
            raise ScenarioFileError.at(e.path, e.problem, e.allowed, field) from e
        raise
    except KmapsimError:
        raise
    except OSError as e:
        raise _cannot_write(field, path, e) from e


def _cannot_write(field: str, path: Path, e: OSError) -> ScenarioFileError:
    problem = f"cannot write {path}: {_reason(e)}"
    return ScenarioFileError.at(path, problem, "a writable path with free space", field)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``, with its suffix, renamed over ``path`` when the block
    ends without error and removed otherwise: a failed write leaves no truncated file."""
    tmp = path.with_name(f".kmapsim-{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


#: Option or argument name -> the files it names (None for an option not given).
Files = Mapping[str, "str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None"]


def distinct(writes: Files, reads: Files = {}) -> None:  # noqa: B006  # never mutated
    """Refuse, before anything is written, a file that a command or function writes (or keeps,
    as a store) which is also a file it reads or another it writes: ``--out`` over the
    ``--store``, a plot over the store, a table over the grid file would destroy it. Files are
    compared by their real path, and by inode when both exist (hard links). One inside the
    other (``--plots st.sqlite`` with ``--store st.sqlite``: a directory's file under a file)
    is refused too, since one of them could not be written once the other is. The error is a
    `ScenarioError` naming the writing option (the later of the two)."""
    from kmapsim.errors import ScenarioError

    named: list[tuple[str, Path, bool]] = [(o, p, False) for o, p in _each(reads)]
    named += [(o, p, True) for o, p in _each(writes)]
    for i, (option, path, written) in enumerate(named):
        for other, seen, seen_written in named[:i]:
            if not (written or seen_written) or option == other:
                continue
            if _same_file(path, seen):
                raise ScenarioError.of(
                    option,
                    f"{path} is also the {other} file, which writing it would destroy",
                    f"a file other than {other}'s",
                )
            if _inside(path, seen) or _inside(seen, path):
                where = "inside" if _inside(path, seen) else "a directory holding"
                raise ScenarioError.of(
                    option,
                    f"{path} would be {where} {seen}, the {other} file",
                    f"a path apart from {other}'s",
                )


def _each(files: Files) -> Iterator[tuple[str, Path]]:
    for option, value in files.items():
        if value is None:
            continue
        paths = [value] if isinstance(value, (str, os.PathLike)) else value
        for path in paths:
            yield option, Path(os.fspath(path))


def _inside_or_same(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b) or _inside(a, b)


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is under ``b`` (which would then have to be a directory)."""
    return os.path.realpath(a).startswith(os.path.realpath(b).rstrip(os.sep) + os.sep)


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): only the same path could be the same file
        return False
