"""`run`: one simulation, the thin door to the Rust engine, and the argument checks and limits
it shares with `Simulation`, `sweep` and `Store`.

Arguments are checked here, before the engine is entered, so that a bad ``cycles`` or ``seed``
gets the same kind of error (a ScenarioError naming the argument) as a bad scenario field. The
engine checks them again: this layer only makes the message friendlier.

Records are bounded by one budget (`RECORD_BUDGET_BYTES`, 2 GiB counted at the size of the
Python objects a result holds: about 600 bytes per trace event, 300 per sample or recorded
operation): a ``trace`` past `MAX_TRACE` or a ``sample_every`` that would take more samples is
refused before the run with a ScenarioError; ``record_ops`` stops the run with one when the
budget fills. Memory that cannot be had raises `MemoryError`; nothing aborts the interpreter.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from kmapsim import _core
from kmapsim._numbers import as_flag, as_float, as_int, int_range
from kmapsim._quote import did_you_mean, quote
from kmapsim.calls import call_list
from kmapsim.errors import ScenarioError, ScenarioTypeError
from kmapsim.result import RunResult
from kmapsim.scenario import Scenario

__all__ = ["MAX_CYCLES", "MAX_SEED", "MAX_TRACE", "MODES", "RECORD_BUDGET_BYTES", "run"]

#: Longest run accepted, in cycles (the engine's clock must never overflow).
MAX_CYCLES: int = _core.MAX_CYCLES
#: Seeds are 64-bit.
MAX_SEED: int = _core.MAX_SEED
#: Most events a trace may keep: the whole record budget at 600 bytes per event.
MAX_TRACE: int = _core.MAX_TRACE
#: Most memory a run's records (trace, samples, recorded operations) may take, in bytes.
RECORD_BUDGET_BYTES: int = _core.RECORD_BUDGET_BYTES
Mode = Literal["skip", "step"]
#: Time-advance modes: "skip" jumps to the next event (the default), "step" visits every cycle.
MODES: tuple[str, ...] = tuple(_core.MODES)
assert set(MODES) == set(get_args(Mode)), "the Mode type must name the engine's modes"


def _int_arg(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an int in [lo, hi]: any integer (an object with ``__index__``, such as a
    numpy integer scalar) but a bool; else the ScenarioError of argument ``name``."""
    allowed = int_range(lo, hi)
    i = as_int(value)
    if i is None:  # a float, a string, a bool: the wrong kind of object
        raise ScenarioTypeError.of(name, f"got {type(value).__name__} {quote(value)}", allowed)
    if not lo <= i <= hi:
        raise ScenarioError.of(name, f"{quote(i)} is out of range", allowed)
    return i


def _check_mode(mode: object) -> str:
    """``mode``, one of `MODES`: anything but a string is the wrong kind of object."""
    allowed = "one of " + ", ".join(MODES)
    if not isinstance(mode, str):
        raise ScenarioTypeError.of("mode", f"got {type(mode).__name__} {quote(mode)}", allowed)
    if mode not in MODES:
        problem = f"unknown mode {quote(mode)}{did_you_mean(mode, MODES)}"
        raise ScenarioError.of("mode", problem, allowed)
    return mode


def _trace_arg(trace: object) -> int | None:
    """``trace`` as the engine takes it (None: no trace). A count past `MAX_TRACE` is left to
    the engine, which says what it would take; anything else wrong names `MAX_TRACE`."""
    try:
        return _int_arg("trace", trace, 0, MAX_SEED) or None
    except ScenarioError as e:
        allowed = f"an integer in [0, {MAX_TRACE}] (0: no trace)"
        raise type(e).of("trace", e.problem, allowed) from None


def _wall_limit(seconds: object) -> float | None:
    if seconds is None:
        return None
    allowed = "a positive, finite number of seconds, or None"
    try:
        value = as_float(seconds)
    except OverflowError:  # an integer past the float range, e.g. 10**400
        raise ScenarioError.of("max_wall_seconds", "too large for a float", allowed) from None
    if value is None:  # not a number (any object with __float__ or __index__ is one)
        problem = f"got {type(seconds).__name__} {quote(seconds)}"
        raise ScenarioTypeError.of("max_wall_seconds", problem, allowed)
    if not 0 < value < float("inf"):
        raise ScenarioError.of("max_wall_seconds", f"got {quote(seconds)}", allowed)
    return value


def _replay_columns(replay: Any, scenario: Scenario) -> tuple[list[Any], ...] | None:
    """The engine's columns of ``replay`` (a DataFrame, mapping or CSV path), checked here
    against ``scenario``'s cpus, pages and irq_locks too, so that an error names the file and
    line (or the row) rather than the engine's row index (`kmapsim.replay.engine_columns`)."""
    if replay is None:
        return None
    from kmapsim.replay import engine_columns

    return engine_columns(
        replay,
        cpus=scenario.cpus,
        pages=scenario.pages,
        irq_locks=scenario.irq_locks,
        tasks=scenario.tasks,
        field="replay",
    )


def engine_options(
    scenario: Scenario,
    seed: object,
    mode: object,
    trace: object,
    sample_every: object,
    replay: Any,
    record_ops: object,
    max_wall_seconds: object,
    cancel: object = None,
    replay_calls: Any = None,
    record_calls: object = False,
) -> _core.Options:
    """The arguments `run` and `Simulation` share, as the engine's one frozen `_core.Options`
    (which checks them again, in Rust, when it is built)."""
    if not isinstance(scenario, Scenario):
        raise ScenarioTypeError.got("scenario", scenario, "a kmapsim.Scenario")
    mode = _check_mode(mode)
    calls = None if replay_calls is None else call_list(replay_calls)
    args = (
        scenario.to_dict(),
        _int_arg("seed", seed, 0, MAX_SEED),
        mode,
        _trace_arg(trace),
        _int_arg("sample_every", sample_every, 0, MAX_CYCLES) or None,
        _replay_columns(replay, scenario),
        _flag("record_ops", record_ops),
        _wall_limit(max_wall_seconds),
        _cancel_token(cancel),
        None if calls is None else calls.columns,
        _flag("record_calls", record_calls),
    )
    try:
        return _core.Options(*args)
    except ScenarioError as e:
        # The engine checks the calls against the scenario, naming a row by its index: say
        # where that row came from (file and line, DataFrame row, task and call).
        if calls is None or e.field != "replay_calls":
            raise
        raise calls.located(e) from None


def _flag(name: str, value: object) -> bool:
    """``value`` as a bool (Python's or numpy's; an int is not one), else the
    ScenarioTypeError of argument ``name``."""
    flag = as_flag(value)
    if flag is None:
        problem = f"got {_type_name(value)} {quote(value)}"
        raise ScenarioTypeError.of(name, problem, "True or False")
    return flag


def _type_name(value: object) -> str:
    """``int``, ``numpy.int64``: builtins by their plain name, other types with their module."""
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _cancel_token(cancel: object) -> _core.CancelToken | None:
    if cancel is None or isinstance(cancel, _core.CancelToken):
        return cancel
    allowed = "a kmapsim.CancelToken or None"
    raise ScenarioTypeError.of("cancel", f"got {type(cancel).__name__}", allowed)


def run(
    scenario: Scenario,
    *,
    cycles: int,
    seed: int = 0,
    mode: Mode = "skip",
    trace: int = 0,
    sample_every: int = 0,
    replay: Any = None,
    record_ops: bool = False,
    max_wall_seconds: float | None = None,
    cancel: _core.CancelToken | None = None,
    replay_calls: Any = None,
    record_calls: bool = False,
) -> RunResult:
    """Simulate ``scenario`` for ``cycles`` cycles and return what it reports.

    The same ``(scenario, cycles, seed)`` always gives the same result, in either ``mode``:
    "skip" (the default) jumps from one state change to the next, "step" visits every cycle and
    exists as the reference to check "skip" against. The engine runs without the GIL; Ctrl-C
    stops it with KeyboardInterrupt.

    Raises ScenarioError for a bad argument, DeadlockError when the machine is stuck (frozen,
    or no operation completed for ``watchdog_cycles``), KernelBug when the simulated kernel
    would have called BUG().

    ``trace=N`` keeps the last N engine events (state changes, lock grants, mappings, IPIs,
    TLB fills and flushes, stale reads) in ``RunResult.trace``; 0 (the default) keeps none.
    ``sample_every=K`` samples the machine every K cycles into ``RunResult.samples``.
    ``replay`` (a DataFrame, a mapping cpu -> rows, or a CSV path; see `kmapsim.replay`) drives
    the CPUs from an operation list instead of the random workload; ``record_ops=True`` returns
    this run's own operations in ``RunResult.ops``. ``max_wall_seconds`` stops a run that takes
    longer than that with `WallClockExceeded` (its ``cycle`` says how far it got). A
    `kmapsim.CancelToken` passed as ``cancel`` stops the run with KeyboardInterrupt when another
    thread calls its ``cancel()``. A failure of the engine itself raises `InternalError`
    carrying the scenario and seed to report; it never crashes the interpreter. Records past
    the budget (module docstring) raise ScenarioError, memory that cannot be had MemoryError.

    ``replay_calls`` (a DataFrame, a mapping task -> calls, or a CSV path; see `kmapsim.calls`)
    drives the tasks from per-task lists of kernel calls (kmap, kunmap, access, block, ...)
    instead of their program; ``record_calls=True`` returns every completed kmap and kunmap in
    ``RunResult.calls`` (cycle, task, cpu, op, page, slot, slept, flushed).
    """
    n = _int_arg("cycles", cycles, 1, MAX_CYCLES)
    options = engine_options(
        scenario,
        seed,
        mode,
        trace,
        sample_every,
        replay,
        record_ops,
        max_wall_seconds,
        cancel,
        replay_calls,
        record_calls,
    )
    raw = _core.run(options, n)
    return RunResult.from_raw(scenario, raw)
