"""`Scenario`: one simulated machine and its workload, as a frozen, validated value.

The field table in ``rust/kmapsim-core/src/config.rs`` is the single source of truth for the
fields, their kinds, ranges and defaults; `_core.field_specs()` exposes it. The dataclass below
spells the fields out again only so that editors and mypy know them; a test checks that names,
order and defaults agree with the table. Type and range checks here are driven by the specs, and
`_core.validate` then checks the rules that span fields, so a Scenario that exists is one the
engine accepts.

One dataclass field is not in the table: ``program``, the steps of a custom workload. It is not
a single value but a list of steps, and the engine checks and compiles it (naming the step and
field of any error) when it validates the scenario; this module only brings it into one shape.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

import numpy as np

from kmapsim import _core
from kmapsim._frozen import sealed
from kmapsim._numbers import as_float, as_int, bound_text, int_range
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, ScenarioFileError, ScenarioTypeError
from kmapsim.fileio import as_path, file_format, read_document, toml_dumps
from kmapsim.outputs import SCENARIO_SUFFIXES, output_file, writing
from kmapsim.presets import get_preset, preset_names

__all__ = ["FieldSpec", "FieldValue", "Program", "ProgramLike", "ProgramStep", "Scenario"]

#: The Python type of a field value.
FieldValue = int | float | str
#: One step of a program as a `Scenario` holds it: its (field, value) pairs, ``op`` first, then
#: the other fields in alphabetical order, ``prob`` last.
ProgramStep = tuple[tuple[str, FieldValue], ...]
#: A program as a `Scenario` holds it (hashable, so that scenarios are).
Program = tuple[ProgramStep, ...]
#: What ``Scenario(program=...)`` takes: the one-line form, or a list (or tuple) of steps, each
#: a mapping of field names to values or a sequence of (field, value) pairs.
ProgramLike = str | Sequence[Mapping[str, object] | Sequence[tuple[str, object]]]


class FieldSpec(TypedDict):
    """One row of the Rust field table, as returned by `Scenario.fields()`."""

    name: str
    kind: Literal["int", "float", "choice"]
    min: int | float | None
    max: int | float | None
    choices: list[str] | None
    unit: str
    doc: str
    default: FieldValue


class _Origin:
    """Where a scenario came from, kept beside its fields (a slot, not a dataclass field), so
    that equality, hashing, `Scenario.to_dict` and the field table ignore it."""

    __slots__ = ("_implied_custom", "_preset")


@sealed
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Scenario(_Origin):
    """A complete, validated scenario. Build it with keywords, `preset`, `replace` or `from_dict`.

    Scenarios are saved and loaded as TOML or JSON files with `to_file` and `from_file`.

    Every field is checked on construction: an unknown (or empty) keyword, the wrong type (a
    bool is not an int, a float is not an int, NaN is no probability), a value out of range, or
    an inconsistent combination raises `ScenarioError` naming the field and what is allowed.
    numpy scalars are taken as the Python values they hold, with the same checks. ``kmapsim
    fields`` or `Scenario.fields()` list each field with its unit, range and meaning.

    A scenario built by `preset` (or loaded from a file with a ``preset`` key) remembers that
    preset, as `preset_name`, through `replace`, copying and pickling; its repr names it with
    the fields that differ from it: ``Scenario.preset('pIII-8way-2001', cpus=64)``. The name is
    not a field: equality and hashing compare field values only, and `to_dict` leaves it out.

    ``program`` is the one field that is not in the table: the steps of the ``custom`` workload
    (``kmapsim workloads``, docs/model.md section 16), given in their one-line form
    (``"work; kmap handle=src page=hot; access handle=src; kunmap handle=src"``) or as a list of
    steps, each a mapping such as ``{"op": "kmap", "handle": "src", "page": "hot"}``. A
    program given while ``workload`` is left out sets ``workload="custom"``; a program with
    another workload, or ``workload="custom"`` without one, is a `ScenarioError`, as is a bad
    step (field ``"program step 2 (kmap): page"``: the step, from 0, its op and the field). The
    scenario holds the program as a tuple of steps, each a tuple of (field, value) pairs with
    ``op`` first, ``prob`` last and the others sorted, so that equal programs compare and hash
    equal; ``irqs_off`` given as true or false is held as 1 or 0, and a bool in any other
    field is a `ScenarioError` (``True`` is never handle 1 or one lookup). `program_text`
    gives its one-line form, `to_dict` a list of dicts.
    """

    # The choices first, then the integers, then the floats: the order of the Rust table.
    strategy: str = "sync"
    slot_alloc: str = "scan"
    lock_arbitration: str = "tas"
    work_dist: str = "exponential"
    irq_hold_dist: str = "exponential"
    empty_flush: str = "flush"
    workload: str = "dbench"
    cpus: int = 8
    tasks: int = 0
    last_pkmap: int = 1024
    pages: int = 65536
    hot_pages: int = 256
    tlb_entries: int = 32
    tlb_miss_cycles: int = 30
    tlb_flush_cycles: int = 200
    tlb_refill_cycles: int = 0
    tlb_broadcast_cycles: int = 700
    tlb_flush_ceiling: int = 33
    tlb_invlpg_cycles: int = 100
    kmap_local_cycles: int = 20
    ipi_latency: int = 1400
    ipi_send_cycles: int = 300
    ipi_send_per_target_cycles: int = 0
    ipi_ack_per_target_cycles: int = 0
    ipi_handler_cycles: int = 600
    lock_acquire_cycles: int = 30
    lock_handoff_cycles: int = 250
    lock_handoff_per_waiter_cycles: int = 0
    lock_hold_per_waiter_cycles: int = 0
    irq_locks: int = 4
    irq_hold_cycles: int = 3000
    work_cycles: int = 15000
    copy_cycles: int = 2500
    copy_lookups: int = 4
    kmap_hit_cycles: int = 60
    kmap_new_cycles: int = 120
    scan_slot_cycles: int = 4
    flush_slot_cycles: int = 6
    flush_clear_slot_cycles: int = 0
    kunmap_cycles: int = 50
    ctx_switch_cycles: int = 2000
    block_cycles: int = 1_000_000
    watchdog_cycles: int = 50_000_000
    max_violation_records: int = 16
    cpu_mhz: float = 700.0
    shared_page_prob: float = 0.25
    tlb_evict_rate: float = 0.5
    irq_section_prob: float = 0.3
    ctx_switch_prob: float = 0.1
    kmap_irqs_off_prob: float = 0.0
    # Not in the field table: the steps of the custom workload (see the class doc). Held as a
    # `Program` (or None) once built, whatever form it was given in.
    program: Program | ProgramLike | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Scenario:
        # Checked here, before the generated __init__, so that an unknown or empty keyword is
        # a ScenarioError naming it (as from_dict and replace give), not a TypeError.
        _check_names(kwargs)
        self = object.__new__(cls)
        object.__setattr__(self, "_preset", None)
        # Only here is it known whether workload was left out: a program then implies it.
        implied = kwargs.get("program") is not None and "workload" not in kwargs
        object.__setattr__(self, "_implied_custom", implied)
        return self

    def __post_init__(self) -> None:
        specs = _spec_map()
        for name in _field_names():
            spec = specs.get(name)
            if spec is None:  # a field the engine does not know: let validate() name it
                continue
            value = getattr(self, name)
            checked = _check(spec, value)
            if checked is not value:
                object.__setattr__(self, name, checked)
        if getattr(self, "_implied_custom", False):
            object.__setattr__(self, "workload", CUSTOM)
        d: dict[str, Any] = {name: getattr(self, name) for name in _field_names()}
        steps = _program_input(self.program)
        if steps is not None:
            d["program"] = steps
        # The engine decides: it checks the rules that span fields, compiles the program and
        # normalises each value, and the scenario keeps what it returns.
        checked_dict = _core.validate(d)
        program = checked_dict.pop("program", None)
        object.__setattr__(self, "program", None if program is None else _held(program))
        for name, value in checked_dict.items():
            if type(value) is not type(getattr(self, name)) or value != getattr(self, name):
                object.__setattr__(self, name, value)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def preset(cls, name: str, /, **overrides: object) -> Scenario:
        """The preset ``name`` (see `kmapsim.preset_names()`), with some fields overridden.

        An unknown name raises `ScenarioError` (field ``"preset"``, with "did you mean").
        The scenario remembers ``name`` (`preset_name`), which its repr shows."""
        return cls.from_dict({**_preset_values(name), **overrides})._from_preset(name)

    @property
    def preset_name(self) -> str | None:
        """The preset this scenario was built from (by `preset`, or a file's ``preset`` key),
        kept by `replace`, copies and pickling; None for one built otherwise. Not a field: it
        takes no part in equality, hashing, `to_dict` or run keys."""
        return cast("str | None", getattr(self, "_preset", None))

    def _from_preset(self, name: str | None) -> Scenario:
        """This scenario, marked as built from preset ``name`` (the object itself: the mark
        is set once, right after construction)."""
        object.__setattr__(self, "_preset", name)
        return self

    def replace(self, **changes: object) -> Scenario:
        """A copy with some fields changed; an unknown name raises ScenarioError (did you mean).
        The copy keeps `preset_name`.

        A ``program`` given without a ``workload`` makes the copy's workload ``"custom"``; a
        ``workload`` other than ``"custom"`` given without a ``program`` drops the program, so
        that a sweep can compare a custom program with the built-in workloads."""
        _check_names(changes)
        changes = dict(changes)
        workload = changes.get("workload", CUSTOM)
        if "workload" not in changes and changes.get("program") is not None:
            changes["workload"] = CUSTOM
        elif "program" not in changes and not (isinstance(workload, str) and workload == CUSTOM):
            # Compared only as a string: any other value (an array, say) is validation's to
            # refuse with a ScenarioError, not a comparison's to raise on.
            changes["program"] = None
        new = dataclasses.replace(self, **cast(dict[str, Any], changes))
        return new._from_preset(self.preset_name)

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Scenario:
        """Build from a mapping such as `to_dict()` output; missing fields take their defaults."""
        if not isinstance(d, Mapping):
            raise ScenarioTypeError.of(
                "scenario", f"got {_describe(d)}", "a mapping of field names to values"
            )
        _check_names(d)
        return cls(**cast(dict[str, Any], dict(d)))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Scenario:
        """Load a scenario file: TOML if ``path`` ends in ``.toml``, JSON if in ``.json``.

        The file is flat: each top-level key is a scenario field (``kmapsim fields``) and its
        value; fields it does not set take their defaults. An optional ``preset = "NAME"`` key
        starts from that preset instead, and the other keys override its values::

            # TOML                              // JSON
            preset = "opteron-32core-2009"      {"preset": "opteron-32core-2009",
            cpus = 16                            "cpus": 16, "strategy": "lazy"}
            strategy = "lazy"

        Integers are written as integers (a float field also takes one), floats as floats,
        choices as strings; there are no tables, but for ``program``, the steps of a custom
        program (which sets ``workload = "custom"`` when the file leaves the workload out): in
        TOML an array of tables, one ``[[program]]`` per step, after the flat keys, or a
        string in the one-line form (``program = "kmap page=private; kunmap"``); in JSON a
        list of objects, or such a string::

            # TOML                              // JSON
            tasks = 32                          {"tasks": 32, "program": [
            [[program]]                           {"op": "kmap", "page": "private"},
            op = "kmap"                           {"op": "kunmap"}]}
            page = "private"
            [[program]]
            op = "kunmap"

        `to_file` writes every field and no preset.

        Errors follow the rule of `kmapsim.fileio`. A file that cannot be read as a scenario
        file (missing, not a regular file, larger than `kmapsim.fileio.MAX_DOCUMENT_BYTES`,
        empty, not UTF-8, not valid TOML or JSON, with the parser's line and column, nested
        more than `kmapsim.fileio.MAX_NESTING` deep, holding an integer too long to convert, a
        JSON top level that is not an object, another suffix, a key that is neither a field
        nor ``preset`` (named, with "did you mean"), a table, ``program`` as a single
        ``[program]`` table) raises `ScenarioFileError`, whose ``field`` is ``"file"`` and
        ``path`` the file. A well-formed file with a bad value, a bad program step included,
        raises the `ScenarioError` that `Scenario(...)` raises (same ``field``, ``problem``
        and ``allowed``; a bad preset name: field ``"preset"``; a bad step: field such as
        ``"program step 1 (kmap): page"``), its message prefixed with the path. The scenario
        remembers the file's preset (`preset_name`). A ``path`` that is no path (None, a
        number, a list) raises `ScenarioFileError` (field ``"file"``, ``path`` ``""``); a
        `bytes` path is decoded with `os.fsdecode` (`kmapsim.fileio.as_path`).
        """
        p = as_path(path)
        doc = read_document(p)
        if not doc:
            raise ScenarioFileError.at(
                p, f"{p} sets nothing: no field and no preset", _FILE_CONTENT
            )
        names = _name_set()
        for key, value in doc.items():
            # A table is a fault of the file's shape (scenario files are flat), as is a key
            # that is no field (below): ScenarioFileError, not the error of a value.
            if isinstance(value, dict):
                problem = "a table, but scenario files are flat"
                allowed = "field = value keys at the top level, and optionally preset"
                if key == "program":
                    problem = "a single table, but a program is a list of steps"
                    allowed = _PROGRAM_IN_FILE
                elif key not in names:
                    problem = "unknown field: " + problem
                raise _file_key_error(p, _name_error(key, problem, allowed))
        try:
            _check_names(doc, extra=("preset",))
        except ScenarioError as e:
            raise _file_key_error(p, e) from None
        try:
            values = dict(doc)
            base: Mapping[str, object] = {}
            preset = values.pop("preset", None)
            if "preset" in doc:
                base = _preset_values(preset)
            sc = cls(**cast(dict[str, Any], {**base, **values}))
        except ScenarioError as e:
            # The same error, telling which file it is in: the command line prints only this.
            raise e.within(str(p)) from None
        return sc._from_preset(cast("str | None", preset))

    def _file_dict(self) -> dict[str, Any]:
        preset = {} if self.preset_name is None else {"preset": self.preset_name}
        return {**preset, **self.to_dict()}

    def to_file(self, path: str | os.PathLike[str]) -> Path:
        """Write every field to ``path``, as TOML if it ends in ``.toml``, JSON if in ``.json``.

        `from_file` reads it back to an equal scenario (floats are written exactly), from the
        same preset: a scenario built from a preset writes ``preset = NAME`` first (every field
        follows, so the file means the same whatever the preset's values become). A program is
        written last, as one ``[[program]]`` table per step in TOML, a list in JSON. The TOML
        starts with comments naming the kmapsim and model versions that wrote it; JSON has no
        comments. Returns the path. A path that cannot be written (a suffix that names neither
        format, a missing or read-only directory, a directory) raises `ScenarioFileError`
        naming it (`kmapsim.outputs`), before anything is written or, for a failed write,
        caused by the `OSError`.
        """
        p = output_file("file", path, SCENARIO_SUFFIXES, "a .toml or .json file")
        if file_format(p) == "toml":
            comments = [
                f"kmapsim scenario, written by kmapsim {_core.__version__}"
                f" (model version {_core.MODEL_VERSION})",
                "Each key is a scenario field (`kmapsim fields` lists them); load it with",
                "kmapsim.Scenario.from_file(path) or `kmapsim run --scenario FILE`.",
            ]
            if self.program is not None:
                comments.append("Each [[program]] table is a step of the custom program, in order.")
            text = toml_dumps(self._file_dict(), comments)
        else:
            text = json.dumps(self._file_dict(), indent=2, allow_nan=False) + "\n"
        with writing("file", p), p.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        return p

    # -- export -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, FieldValue | list[dict[str, FieldValue]]]:
        """Every field, in table order: plain ints, floats and strings (JSON-ready); then, only
        when the scenario has one, ``"program"``: a list of steps, each a dict of its fields."""
        d: dict[str, FieldValue | list[dict[str, FieldValue]]]
        d = {name: getattr(self, name) for name in _field_names()}
        if self.program is not None:
            d["program"] = [dict(step) for step in cast(Program, self.program)]
        return d

    @property
    def program_text(self) -> str | None:
        """The program in its one-line form (``kmapsim run --program TEXT`` takes it), or None.

        Steps are joined by ``"; "``, each its op and ``field=value`` words. It reads back to
        the same program unless a string value holds a space, ``;`` or ``=``, or reads as a
        number or as true/false (then `to_dict` is the exact form)."""
        if self.program is None:
            return None
        return program_text(cast(Program, self.program))

    @classmethod
    def fields(cls) -> list[FieldSpec]:
        """The field table: name, kind, min, max, choices, unit, doc and default of each field."""
        # Copies, choices included, so that a caller cannot edit the cached table.
        return [cast(FieldSpec, {**s, "choices": _copy(s["choices"])}) for s in _specs()]

    def __repr__(self) -> str:
        # Only what differs from where the scenario started (its preset, else the defaults): a
        # repr of every field hides the one that matters. Either form evaluates back to an
        # equal scenario. A program implies workload="custom" when the workload is left out.
        preset = self.preset_name
        start = _preset_dict(preset) if preset is not None else _default_dict()
        values = {name: getattr(self, name) for name in _field_names()}
        if self.program is not None and start["workload"] == _default_dict()["workload"]:
            del values["workload"]
        changed = [f"{k}={v!r}" for k, v in values.items() if start.get(k) != v]
        if self.program is not None:
            changed.append(f"program={_program_repr(cast(Program, self.program))}")
        if preset is None:
            return f"Scenario({', '.join(changed)})"
        return f"Scenario.preset({', '.join([repr(preset), *changed])})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Explicit, because pickling frozen slotted dataclasses is broken on some Python 3.10
        # releases, and sweeps send scenarios to worker processes.
        return (_restore, (self.to_dict(), self.preset_name))


#: What a scenario file should hold, for error messages.
_FILE_CONTENT = 'scenario fields as "field = value" keys, optionally a preset'
#: How a scenario file gives a program, for error messages.
_PROGRAM_IN_FILE = (
    'one [[program]] table per step (TOML), a list of objects (JSON), or program = "one-line form"'
)

#: The workload that runs the scenario's own program.
CUSTOM = "custom"


# -- programs -------------------------------------------------------------------------------------


def _program_input(program: object) -> object:
    """``program`` as the engine takes it: None, or a list of steps, each a dict. The one-line
    form is read by the engine (`_core.parse_program`); a step given as (field, value) pairs
    becomes a dict (a field given twice is a ScenarioError). Anything else is passed on as it
    is, for the engine to say what is wrong with it."""
    if program is None:
        return None
    if isinstance(program, str):
        _check_text("program", program)
        return _core.parse_program(program)
    if not isinstance(program, (list, tuple)):
        return program
    return [_step_input(i, step) for i, step in enumerate(program)]


def _check_text(where: str, text: str) -> None:
    """A ScenarioError for text that is no valid Unicode (a lone surrogate, as `os.fsdecode`
    makes of bytes that are not UTF-8), which the engine would otherwise mangle or refuse with
    a UnicodeEncodeError."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        problem = f"{quote(text)} holds {quote(e.object[e.start : e.end])}, which is not text"
        raise ScenarioError.of(where, problem, "valid UTF-8 text") from None


def _step_input(i: int, step: object) -> object:
    if isinstance(step, Mapping):
        for key, value in step.items():
            for text in (key, value):
                if isinstance(text, str):
                    _check_text(f"program step {i}", text)
        return dict(step)
    if not isinstance(step, (list, tuple)) or not all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)
        for pair in step
    ):
        return step
    out: dict[str, object] = {}
    for key, value in step:
        for text in (key, value):
            if isinstance(text, str):
                _check_text(f"program step {i}", text)
        if key in out:
            raise ScenarioError.of(
                f"program step {i}: {key}", "given twice", "each field once in a step"
            )
        out[key] = value
    return out


def _step_order(pair: tuple[str, object]) -> tuple[int, str]:
    """``op`` first, ``prob`` last, the other fields in alphabetical order."""
    key = pair[0]
    return (0 if key == "op" else 2 if key == "prob" else 1, key)


def _held(steps: Sequence[Mapping[str, FieldValue]]) -> Program:
    """The engine's checked program as a scenario holds it (`Program`)."""
    return tuple(tuple(sorted(step.items(), key=_step_order)) for step in steps)


def _value_text(value: FieldValue) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def program_text(program: Program) -> str:
    """A held program in its one-line form: ``"kmap handle=src page=hot; kunmap handle=src"``."""
    return "; ".join(
        " ".join(_value_text(v) if k == "op" else f"{k}={_value_text(v)}" for k, v in step)
        for step in program
    )


def _typed(program: Program) -> list[list[tuple[str, type, FieldValue]]]:
    """``program`` with each value's type beside it: 1 and 1.0 are equal, but read apart."""
    return [[(k, type(v), v) for k, v in step] for step in program]


def _program_repr(program: Program) -> str:
    """The repr of ``program`` as an argument of Scenario(...): its one-line form when that
    reads back to the very same program, else its list of dicts."""
    text = program_text(program)
    try:
        back = _held(_core.parse_program(text))
    except ScenarioError:
        back = ()
    if _typed(back) == _typed(program):
        return repr(text)
    return repr([dict(step) for step in program])


def _copy(choices: list[str] | None) -> list[str] | None:
    return None if choices is None else list(choices)


def _restore(d: dict[str, Any], preset: str | None = None) -> Scenario:
    # ``preset`` defaults to None so that pickles written before it was kept still load.
    sc = Scenario.from_dict(d)
    return sc._from_preset(preset if preset in preset_names() else None)


def _file_key_error(path: Path, e: ScenarioError) -> ScenarioFileError:
    """A bad key of scenario file ``path`` (``e`` from `_name_error`) as the file error it is:
    the message names the file and the key, with its "did you mean"."""
    shown = str(e).removesuffix(f"; allowed: {e.allowed}")
    return ScenarioFileError.at(path, f"{path}: {shown}", e.allowed)


@functools.cache
def _default_dict() -> dict[str, FieldValue]:
    """The default of every field of the table."""
    defaults = {f.name: f.default for f in dataclasses.fields(Scenario)}
    return {name: cast(FieldValue, defaults[name]) for name in _field_names()}


@functools.cache
def _preset_dict(name: str) -> dict[str, FieldValue]:
    """Every field of preset ``name``, for reprs (cached: presets never change)."""
    return {**_default_dict(), **get_preset(name).values}


# -- the field table ------------------------------------------------------------------------------


@functools.cache
def _specs() -> tuple[FieldSpec, ...]:
    return tuple(cast(FieldSpec, s) for s in _core.field_specs())


@functools.cache
def _spec_map() -> dict[str, FieldSpec]:
    return {s["name"]: s for s in _specs()}


#: Dataclass fields that are not in the engine's field table.
_NOT_IN_TABLE = ("program",)


@functools.cache
def _field_names() -> tuple[str, ...]:
    """The fields of the table, in its order (every dataclass field but ``program``)."""
    return tuple(f.name for f in dataclasses.fields(Scenario) if f.name not in _NOT_IN_TABLE)


@functools.cache
def _all_names() -> tuple[str, ...]:
    """Every keyword a Scenario takes: the table's fields, then ``program``."""
    return (*_field_names(), *_NOT_IN_TABLE)


@functools.cache
def _name_set() -> frozenset[str]:
    return frozenset(_all_names())


def _check_names(d: Mapping[Any, object], extra: tuple[str, ...] = ()) -> None:
    """Every key is a field name (or one of ``extra``), or a ScenarioError naming the key.

    The error's ``field`` is the key itself (its `quote` if it is not a string); the message
    quotes a key that would not read well bare (empty, blank, long, with control characters).
    """
    known = _name_set()
    for key in d:
        if isinstance(key, str) and (key in known or key in extra):
            continue
        names = (*extra, *_all_names())
        allowed = "one of " + ", ".join(names) + " (`kmapsim fields` describes them)"
        if not isinstance(key, str):
            raise _name_error(key, f"field names are strings, not {type(key).__name__}", allowed)
        if not key.strip():
            raise _name_error(key, f"{'an empty' if not key else 'a blank'} field name", allowed)
        raise _name_error(key, "unknown field" + did_you_mean(key, names), allowed)


def _name_error(key: object, problem: str, allowed: str) -> ScenarioError:
    """`ScenarioError.of` for a bad key, which is shown quoted unless it reads well bare."""
    if not isinstance(key, str):
        field = shown = quote(key)
    else:
        plain = 0 < len(key) <= 80 and key.isprintable() and key == key.strip()
        field, shown = key, key if plain else quote(key)
    return ScenarioError(f"{shown}: {problem}; allowed: {allowed}", field, problem, allowed)


def _preset_values(name: object) -> Mapping[str, object]:
    """The values of preset ``name``, or a ScenarioError (field ``"preset"``) that quotes a
    bad name (checked here because a name can be any value a file or a caller gives)."""
    names = preset_names()
    if isinstance(name, str) and name in names:
        return get_preset(name).values
    allowed = "one of " + ", ".join(names)
    if not isinstance(name, str):  # the wrong kind of object, not an unknown name
        raise ScenarioTypeError.of("preset", f"got {_describe(name)}", allowed)
    problem = f"unknown preset {quote(name)}" + did_you_mean(name, names)
    raise ScenarioError.of("preset", problem, allowed)


# -- type and range checks ------------------------------------------------------------------------


def check_field(name: str, value: object) -> FieldValue:
    """``value`` as field ``name`` holds it, or the `ScenarioError` that ``Scenario(name=value)``
    raises for its name, type or range (the rules that span fields are checked when a whole
    scenario is built). For readers of files that hold field values, such as sweep grids.
    ``program`` is no single value (it is checked with the whole scenario): refused here."""
    _check_names({name: value})
    spec = _spec_map().get(name)
    if spec is None:
        allowed = "one of " + ", ".join(_field_names())
        raise ScenarioError.of(name, "not a field of the table", allowed)
    return _check(spec, value)


def _allowed(spec: FieldSpec) -> str:
    kind = spec["kind"]
    if kind == "int":
        return int_range(spec["min"], spec["max"])
    if kind == "float":
        return f"a number in [{bound_text(spec['min'])}, {bound_text(spec['max'])}]"
    return "one of " + ", ".join(spec["choices"] or [])


def _describe(value: object) -> str:
    """``a bool True``, ``a string '8'``: what was given, for an error message."""
    if isinstance(value, (bool, np.bool_)):
        kind = "a bool"
    elif isinstance(value, (np.timedelta64, np.datetime64)):
        kind = f"a numpy {type(value).__name__}"  # numpy's integers, but not counts
    elif isinstance(value, str):
        kind = "a string"
    elif isinstance(value, (int, np.integer)):
        kind = "an integer"
    elif isinstance(value, (float, np.floating)):
        kind = "a float"
    elif isinstance(value, np.ndarray):
        # Even a 0-D array is refused: a field takes a scalar, which value.item() gives.
        shape = f"of shape {value.shape}" if value.ndim else "of 0 dimensions"
        what = "one number is wanted"
        if value.size == 1:
            what = "a scalar is wanted: value.item() gives it"
        return f"a numpy array {quote(value, 40)} {shape} ({what})"
    else:
        name = type(value).__name__
        kind = f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
    return f"{kind} {quote(value, 40)}"


def _check(spec: FieldSpec, value: object) -> FieldValue:
    """The value as a plain int, float or str, or a ScenarioError naming the field.

    numpy scalars are accepted (grids are often built with numpy) and turned into Python ones:
    any object with ``__index__`` is an integer, any with ``__float__`` a number
    (`kmapsim._numbers`).
    """
    name, kind = spec["name"], spec["kind"]

    def bad(problem: str) -> ScenarioError:
        return ScenarioError.of(name, problem, _allowed(spec))

    def wrong_type(problem: str) -> ScenarioTypeError:
        return ScenarioTypeError.of(name, problem, _allowed(spec))

    if isinstance(value, (bool, np.bool_)):
        raise wrong_type(f"got {_describe(value)}")
    if kind == "choice":
        if not isinstance(value, str):
            raise wrong_type(f"got {_describe(value)}")
        choices = spec["choices"] or []
        if value not in choices:
            raise bad(f"unknown value {quote(value)}{did_you_mean(value, choices)}")
        return str(value)
    if kind == "int":
        i = as_int(value)  # any object with __index__
        if i is None:
            # Even a whole float (8.0) is refused: one rule everywhere (docs/model.md, 11).
            a_float = isinstance(value, (float, np.floating))
            raise wrong_type(f"got {_describe(value)}" + (", not an integer" if a_float else ""))
        lo, hi = spec["min"], spec["max"]
        if (lo is not None and i < lo) or (hi is not None and i > hi):
            raise bad(f"{quote(i)} is out of range")
        return i
    try:
        number = as_float(value)  # any object with __float__ or __index__
    except OverflowError:  # an int too large for a float
        i = as_int(value)
        number = -math.inf if i is not None and i < 0 else math.inf
    if number is None:
        raise wrong_type(f"got {_describe(value)}")
    f = number
    lo, hi = spec["min"], spec["max"]
    # Written so that NaN fails too.
    if not ((lo is None or f >= lo) and (hi is None or f <= hi)):
        # An int too large for a float is shown by its size, not as the inf it became.
        shown = quote(value) if as_int(value) is not None else str(f)
        raise bad(f"{shown} is out of range")
    return f
