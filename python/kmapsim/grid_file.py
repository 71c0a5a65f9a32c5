"""`read_grid_file`: the TOML sweep description of ``kmapsim sweep --grid-file``.

It holds what `kmapsim.sweep.sweep` takes: a ``[base]`` scenario (a ``preset``, field values
and a ``program``, taken as ``--program`` is), a ``[grid]`` of field values (``program`` too,
as ``--grid`` takes it) and the ``[run]``'s seeds and cycles, each value checked as ``sweep``
checks it, before any run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, ScenarioFileError, ScenarioTypeError
from kmapsim.fileio import read_document
from kmapsim.runner import MAX_CYCLES, _int_arg
from kmapsim.scenario import Scenario, check_field
from kmapsim.sweep import _seed_list, _seed_source

__all__ = ["GRID_FILE", "read_grid_file"]

#: What a --grid-file may hold: table -> allowed keys (None: scenario fields).
_GRID_FILE_TABLES = ("base", "grid", "run")
_RUN_KEYS = ("seeds", "cycles")
GRID_FILE = "--grid-file"


def read_grid_file(path: Path) -> dict[str, Any]:
    """A TOML sweep description: ``[base]`` (``preset``, ``program`` and field values), ``[grid]``
    (field = [values], programs too) and ``[run]`` (``seeds``, ``cycles``). Returns a dict
    with the keys preset, base, grid, seeds and cycles, those given only, each value checked.

    The rule of `kmapsim.fileio`: anything wrong with the file as a file (unreadable, not TOML,
    an unknown table or key, a table that is not one, a [grid] entry that is not a non-empty
    array, nothing set: empty, only comments or only empty tables) is a `ScenarioFileError`
    (field ``--grid-file``, ``.path``); a bad value (a field out of its range, an unknown preset,
    bad seeds or cycles) is the `ScenarioError` of that field (``preset``, ``seeds``,
    ``cycles``), its message naming the file and the key."""
    doc = read_document(path, field=GRID_FILE, fmt="toml")
    names = [s["name"] for s in Scenario.fields()]
    out: dict[str, Any] = {}

    def bad_shape(problem: str, allowed: str) -> ScenarioFileError:
        return ScenarioFileError.at(path, f"{path}: {problem}", allowed, GRID_FILE)

    def unknown(key: str, where: str, allowed: Sequence[str]) -> ScenarioFileError:
        hint = did_you_mean(key, allowed)
        return bad_shape(
            f"unknown key {quote(key)} in {where}{hint}", "one of " + ", ".join(allowed)
        )

    def bad_value(where: str, e: ScenarioError) -> ScenarioError:
        return e.within(f"{path}: {where}")

    for table, body in doc.items():
        if table not in _GRID_FILE_TABLES:
            raise unknown(table, "the top level", [f"[{t}]" for t in _GRID_FILE_TABLES])
        if not isinstance(body, dict):
            raise bad_shape(f"{table} is not a table", f"a [{table}] table")
    for key, value in doc.get("base", {}).items():
        if key == "preset":
            try:
                Scenario.preset(value)
            except ScenarioError as e:
                raise bad_value("[base] preset", e) from None
            out["preset"] = value
        elif key == "program":
            # A whole-scenario value (a one-line string or an array of steps), checked with
            # the base scenario as --program is: it runs where the workload is custom.
            if not isinstance(value, (str, list)):
                raise bad_shape(
                    f"[base] program is {quote(value, 40)}",
                    "program = a one-line program string, or an array of steps",
                )
            out.setdefault("base", {})[key] = value
        elif key not in names:
            raise unknown(key, "[base]", ["preset", "program", *names])
        else:
            try:
                out.setdefault("base", {})[key] = check_field(key, value)
            except ScenarioError as e:
                raise bad_value(f"[base] {key}", e) from None
    for key, values in doc.get("grid", {}).items():
        if key not in names and key != "program":
            raise unknown(key, "[grid]", ["program", *names])
        if not isinstance(values, list) or not values:
            raise bad_shape(
                f"[grid] {key} is {quote(values, 40)}", f"{key} = [value, ...], a non-empty list"
            )
        if key == "program":
            # As --grid program=... takes them, checked with each point's scenario by sweep.
            for i, value in enumerate(values):
                if not isinstance(value, (str, list)):
                    raise bad_shape(
                        f"[grid] program[{i}] is {quote(value, 40)}",
                        "program = [a one-line program string or an array of steps, ...]",
                    )
            out.setdefault("grid", {})[key] = values
            continue
        checked = []
        for i, value in enumerate(values):
            try:
                checked.append(check_field(key, value))
            except ScenarioError as e:
                raise bad_value(f"[grid] {key}[{i}]", e) from None
        out.setdefault("grid", {})[key] = checked
    for key, value in doc.get("run", {}).items():
        if key not in _RUN_KEYS:
            raise unknown(key, "[run]", _RUN_KEYS)
        try:
            if key == "seeds":
                if isinstance(value, list):
                    _seed_list(_seed_source(value))  # every seed an integer, none twice
                elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    # (a count too large is refused with the number of runs it makes)
                    wrong_kind = isinstance(value, bool) or not isinstance(value, int)
                    raise (ScenarioTypeError if wrong_kind else ScenarioError).of(
                        "seeds",
                        f"got {quote(value)}",
                        "a count >= 1, or a non-empty list of distinct integers in [0, 2**64-1]",
                    )
            else:
                value = _int_arg("cycles", value, 1, MAX_CYCLES)
        except ScenarioError as e:
            raise bad_value(f"[run] {key}", e) from None
        out[key] = value
    if not out:
        # As an empty scenario file is refused: a file that sets nothing is a mistake (the
        # wrong file, or one not written yet), not a request for the defaults.
        raise bad_shape(
            "sets nothing: no [base] value, [grid] field or [run] value",
            "[base] (preset, program, fields), [grid] (field = [values]) and [run] (seeds, "
            "cycles): at least one value",
        )
    return out
