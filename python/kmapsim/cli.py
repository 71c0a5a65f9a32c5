"""The ``kmapsim`` command line: the study, a sweep, a single run, a trace, the checker, and
listings of presets, strategies, workloads and fields.

The rule: the command line never shows a traceback, and checks everything before it runs.
Every argument, input file, output path and store is checked before the first simulated run,
so a mistake costs no simulation time: an output file's directory must exist and be writable,
the path must not be a directory and its suffix must name a format the command writes; an
output directory (``study --out``, ``sweep --plots``) must be a writable directory or a new one
in a writable directory; an existing ``--store`` is opened and closed (a new one is created by
the sweep, still before its first run). Output files are written to a temporary file next to
the target and renamed over it, so a write that fails (disk full) leaves no truncated file.

Exit status (``EXIT_STATUS`` below; also at the end of ``kmapsim --help``):

- 0: success.
- 1: internal error, a bug in kmapsim (an engine panic, `InternalError`, or any exception the
  command line does not expect): one line ``kmapsim: internal error: ...`` asks to report it
  with the command line and ``kmapsim --version``. ``KMAPSIM_DEBUG=1`` adds the traceback
  (for every error, not only internal ones).
- 2: bad input, which the user can fix: an argument (argparse usage errors too), a scenario,
  grid or replay file, an output path, a store (`ScenarioError`, `ScenarioFileError`,
  `StoreError`, a store that fails during the sweep: disk full, read-only, damaged), an output
  that cannot be written (permission, disk full), a trace run that recorded no event, more
  than `MAX_RUNS` runs in one command, or memory exhausted by what was asked for.
- 3: the simulated machine failed: `DeadlockError` or `KernelBug` (a result, not a crash).
- 4: a run exceeded its wall-clock limit (`WallClockExceeded`).
- 5: ``kmapsim check`` reached its bound (states or depth) before a verdict.
- 130: interrupted (Ctrl-C); a sweep keeps its finished runs in its store.
- 141: the reader of the output went away (``kmapsim presets | head``), as for SIGPIPE.

Each failure prints one line on stderr, ``kmapsim: error: ...`` (argparse: its usage, then
one ``error:`` line), and no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import errno
import io
import itertools
import json
import linecache
import math
import os
import re
import sqlite3
import sys
import textwrap
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from kmapsim import _core, _interrupt
from kmapsim._numbers import int_range
from kmapsim._quote import did_you_mean, quote, shown_path
from kmapsim.errors import (
    DeadlockError,
    InternalError,
    KernelBug,
    ScenarioError,
    ScenarioFileError,
    WallClockExceeded,
)
from kmapsim.fileio import as_path
from kmapsim.grid_file import GRID_FILE, read_grid_file
from kmapsim.lockstat import lock_stat_rows, lockmeter_text
from kmapsim.outputs import (
    PARQUET_SUFFIXES,
    SCENARIO_SUFFIXES,
    TABLE_SUFFIXES,
    TRACE_SUFFIXES,
    distinct,
)
from kmapsim.outputs import output_dir as _output_dir
from kmapsim.outputs import output_file as _output_file
from kmapsim.outputs import replacing as _replacing
from kmapsim.outputs import writable_dir as _writable_dir
from kmapsim.outputs import writing as _writing
from kmapsim.presets import DEFAULT_PRESET, describe_preset, preset_names, preset_sources
from kmapsim.result import TASK_STATES, RunResult, task_state_shares
from kmapsim.runner import MAX_CYCLES, MAX_TRACE, MODES, run
from kmapsim.scenario import CUSTOM, FieldValue, Scenario
from kmapsim.store import Store, StoreError
from kmapsim.study import REGIMES
from kmapsim.sweep import MAX_POINTS, SweepResult, sweep
from kmapsim.text import format_result, plain_number, sweep_summary_text, text_table

__all__ = ["EXIT_STATUS", "MAX_RUNS", "build_parser", "main", "parse_value"]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_SIMULATION_FAILED = 3
EXIT_WALL_CLOCK = 4
EXIT_BOUND = 5
EXIT_INTERRUPTED = _interrupt.EXIT_INTERRUPTED
EXIT_BROKEN_PIPE = 141

#: Exit status -> meaning, as documented in the module doc and in ``kmapsim --help``.
EXIT_STATUS: Mapping[int, str] = {
    EXIT_OK: "success",
    EXIT_INTERNAL: "internal error, a bug in kmapsim: please report it",
    EXIT_BAD_INPUT: "bad input (an argument, file, output path or store) or an output that "
    "cannot be written",
    EXIT_SIMULATION_FAILED: "the simulated machine deadlocked or hit a kernel BUG (kmapsim "
    "check: a counterexample was found)",
    EXIT_WALL_CLOCK: "a run exceeded its wall-clock limit",
    EXIT_BOUND: "kmapsim check reached its bound before a verdict",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "the reader of the output went away",
}

#: The most runs (grid points x seeds) one ``sweep`` or ``study`` command may ask for: the
#: sweep's own limit, checked here before the study creates its directory. Several commands
#: sharing one ``--store`` do the same work as a bigger one.
MAX_RUNS = MAX_POINTS

#: The environment variable that adds the traceback to every error report.
DEBUG_ENV = "KMAPSIM_DEBUG"

#: The longest error line printed; longer messages (a value of a million characters, a deadlock
#: of 4096 CPUs) are cut there, and KMAPSIM_DEBUG=1 shows them whole.
MAX_MESSAGE = 4000

#: What each command writes into an output directory.
PLOT_FILES = ("scaling.png", "breakdown.png", "lock_wait.png")
#: The study's, as `kmapsim.study` writes them (its module doc, `kmapsim.plots.save_study`):
#: the store, the tables, the sweep's plots, one cycle breakdown per regime, the stale plot.
STUDY_FILES = (
    "study.sqlite",
    "study.parquet",
    "study.csv",
    *PLOT_FILES,
    *(f"cycles_{regime.name}.png" for regime in REGIMES),
    "stale.png",
)

#: Errors of writing a file that come from the machine (full, read-only, not allowed), not from
#: kmapsim: reported as bad input (2), whatever the file.
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)

# One line each, for `kmapsim strategies`: the safety verdict (see docs/validation.md, where
# each is established) and what the strategy does.
STRATEGY_DOCS = {
    "sync": ("safe", "Linux 2.4: broadcast IPI, wait for every ack, all under kmap_lock"),
    "async": ("UNSAFE", "the 2001 proposal: send the IPI and do not wait"),
    "guarded": ("safe", "async, plus a flush-generation check at kmap and context switch"),
    "lazy": ("safe", "no IPI: each CPU catches up with the flush generation at kmap/switch"),
    "targeted": ("safe", "sync, but only to CPUs that may hold pkmap entries"),
    "local": ("safe", "kmap_local: per-CPU slots, no global lock, local invlpg, no IPI"),
    "broadcast": ("safe", "hardware broadcast invalidation (INVLPGB, TLBI IS): no IPI, no handler"),
    "concurrent": ("safe", "sync, with the local flush done while the IPIs are in flight"),
    "early-ack": ("safe", "sync, each target acks on handler entry, before it flushes"),
    "ranged": ("safe", "sync, flushing only the cleared slots (invlpg each) up to a ceiling"),
    "defer": ("safe", "no IPI at the wrap; a half is reused a half-lap later, IPIs to CPUs behind"),
    "split": (
        "safe",
        "Bligh's split pool: allocate from one half, flush the other outside the lock",
    ),
}


# -- argument parsing ----------------------------------------------------------------------------


def parse_value(text: str) -> FieldValue:
    """A ``--set`` value: an int if it reads as one, else a float, else the string itself.

    Only ASCII numerals are numbers: Python's int() and float() also read other scripts' digits
    (Arabic-Indic, fullwidth), which no scenario file, grid file or call list accepts either, so
    such text stays a string and is refused where a number is wanted."""
    if not text.isascii():
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


#: An integer as the command line takes it: ASCII digits, a sign, ``_`` between digits.
_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*")


class _TooLong(ValueError):
    """An integer with more digits than Python converts (4300)."""


def _int_text(text: str) -> int | None:
    """``text`` as the integer it spells, read exactly (never through a float), or None if it
    is no integer (``8.0``, ``2e7`` and ``abc`` are not); `_TooLong` past Python's limit."""
    text = text.strip()
    if not _INT_TEXT.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:
        raise _TooLong(text) from None


def _not_an_integer(text: str) -> str:
    """Why ``text`` is no integer, with the integer to write when it is a whole number in
    another spelling (``2e7``: write 20_000_000), computed exactly, never through a float."""
    try:
        exact = decimal.Decimal(text.strip().replace("_", ""))
    except (decimal.InvalidOperation, ValueError):
        exact = None
    problem = f"got {quote(text)}, which is not an integer"
    if exact is not None and exact.is_finite() and abs(exact) < 10**30 and exact % 1 == 0:
        problem += f" (write {int(exact):_})"
    return problem


def _count(text: str) -> int:
    """An argparse type for cycles, seeds and other counts: an integer such as ``200_000``."""
    try:
        value = _int_text(text)
    except _TooLong:
        raise argparse.ArgumentTypeError(f"{quote(text)} is out of range") from None
    if value is None:
        raise argparse.ArgumentTypeError(_not_an_integer(text))
    return value


def _overrides(args: argparse.Namespace) -> dict[str, FieldValue]:
    """The scenario fields given on the command line, explicit options first, then ``--set``.
    ``--program`` is the scenario's program in its one-line form (the scenario reads it)."""
    out: dict[str, FieldValue] = {}
    if args.cpus is not None:
        out["cpus"] = args.cpus
    if args.strategy is not None:
        out["strategy"] = args.strategy
    if getattr(args, "program", None) is not None:
        out["program"] = args.program
    kinds = {s["name"]: s["kind"] for s in Scenario.fields()}
    for item in args.set:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ScenarioError.of("--set", f"{quote(item)} is not field=value", "field=value")
        if name in out:
            raise ScenarioError.of(name, "given twice on the command line", "one value per field")
        out[name] = _field_value(name, text.strip(), kinds)
    return out


def _field_value(name: str, text: str, kinds: Mapping[str, str]) -> FieldValue:
    """`parse_value`, except that an integer field takes integer text only, read exactly: a
    float (``8.0``, ``1e6``) is refused, as `Scenario` refuses it (docs/model.md, section 11)."""
    if kinds.get(name) != "int":
        return parse_value(text)
    spec = next(s for s in Scenario.fields() if s["name"] == name)
    allowed = int_range(spec["min"], spec["max"])
    try:
        value = _int_text(text)
    except _TooLong:
        raise ScenarioError.of(name, f"{quote(text)} is out of range", allowed) from None
    if value is not None:
        return value
    if isinstance(parse_value(text), float):
        raise ScenarioError.of(name, _not_an_integer(text), allowed)
    return text  # not a number at all: the scenario names its type


def _int_list(text: str) -> list[int]:
    """An argparse type for ``--cpus 1,2,4``."""
    bad = argparse.ArgumentTypeError(f"expected integers separated by commas, got {quote(text)}")
    values = [_count(part) for part in _parts(text)]  # a bad one is named by itself
    if not values:
        raise bad
    return values


def _name_list(text: str) -> list[str]:
    """An argparse type for ``--strategies sync,lazy``."""
    values = _parts(text)
    if not values:
        raise argparse.ArgumentTypeError(f"expected names separated by commas, got {quote(text)}")
    return values


def _parts(text: str) -> list[str]:
    """The comma-separated values of ``text``; an empty one (``1,,2``, ``1,2,``) is refused."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) > 1 and not all(parts):
        empty = parts.index("") + 1
        raise argparse.ArgumentTypeError(f"value {empty} of {len(parts)} in {quote(text)} is empty")
    return [p for p in parts if p]


def _grid_args(items: Sequence[str]) -> dict[str, list[FieldValue]]:
    """``--grid field=v1,v2`` options as a grid; each field at most once."""
    kinds = {s["name"]: s["kind"] for s in Scenario.fields()}
    grid: dict[str, list[FieldValue]] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        values = [v.strip() for v in text.split(",")]
        if not eq or not name or not text.strip():
            raise ScenarioError.of(
                "--grid", f"{quote(item)} is not field=v1,v2,...", "field=v1,v2,..."
            )
        if "" in values:  # cpus=1,,2 or cpus=1,2, : a value left out, not one to skip
            k = values.index("")
            raise ScenarioError.of(
                name,
                f"value {k + 1} of {len(values)} in --grid {quote(item)} is empty",
                "field=v1,v2,... with no empty value",
            )
        if name in grid:
            raise ScenarioError.of(name, "given twice in --grid", "one --grid per field")
        grid[name] = [_field_value(name, v, kinds) for v in values]
    return grid


def _exit_status_help() -> str:
    """The exit-status table at the end of every ``--help``."""
    notes = {EXIT_INTERNAL: f" ({DEBUG_ENV}=1 shows the traceback)"}
    width = max(len(str(code)) for code in EXIT_STATUS) + 2
    return "exit status:\n" + "\n".join(
        f"  {code:<{width}}{text}{notes.get(code, '')}" for code, text in EXIT_STATUS.items()
    )


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that the exit-status table keeps its lines."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit status:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with its error line cut like ours (a bad value can be huge)."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """argparse's check of a choice (--mode, the command), with a "did you mean"."""
        if action.choices is not None and value not in action.choices:
            choices = [str(c) for c in action.choices]
            raise argparse.ArgumentError(
                action,
                f"invalid choice: {quote(value)}{did_you_mean(value, choices)} (choose from "
                + ", ".join(map(repr, choices))
                + ")",
            )

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        # As argparse's own, but each argument left over is quoted: "a b" is one argument,
        # 'a' 'b' two.
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(quote(a) for a in extras))
        return parsed

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        # argparse quotes some arguments and not others ("unrecognized arguments: a b"): a
        # character that does not print is escaped, so that the error stays one line.
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.exit(EXIT_BAD_INPUT, _cut(f"{self.prog}: error: {message}") + "\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``kmapsim`` command line's parser: its commands and options, as ``main`` reads them."""
    parser = _Parser(
        prog="kmapsim",
        description="Simulate CPUs contending on the Linux 2.4 highmem kmap_lock. Everything "
        "a command needs (arguments, files, output paths, stores) is checked before its first "
        "run; an error prints one line.",
        epilog=_exit_status_help(),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kmapsim {_core.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run one scenario and print what it reports",
        description="Run one scenario: a preset or a --scenario file, then --cpus, --strategy, "
        "--set and --program change fields of it. A scenario that sets tasks or a workload "
        "other than dbench also gets a table of where the tasks' time goes (running, "
        "runnable, blocked, asleep on pkmap_map_wait).",
    )
    _add_base_options(p)
    _add_field_options(p)
    p.add_argument(
        "--cycles", type=_count, default=10_000_000, help="simulated cycles (default 10_000_000)"
    )
    p.add_argument("--seed", type=_count, default=0, help="random seed (default 0)")
    p.add_argument("--mode", choices=MODES, default="skip", help="time advance (default skip)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument(
        "--save-scenario",
        metavar="FILE",
        help="write the scenario that runs to FILE (.toml or .json), before running it",
    )
    p.add_argument(
        "--replay",
        metavar="OPS.csv",
        help="drive the CPUs from an operation list instead of the random workload "
        "(format: kmapsim.replay, example: examples/replay_small.csv)",
    )
    p.add_argument(
        "--replay-calls",
        metavar="CALLS.csv",
        help="drive the tasks from per-task lists of kernel calls (task, op, page, work) "
        "instead of their program (format: kmapsim.calls, example: examples/calls_small.csv)",
    )
    p.add_argument(
        "--record-calls",
        metavar="FILE.csv",
        help="write every completed kmap and kunmap (cycle, task, cpu, op, page, slot, slept, "
        "flushed) to FILE.csv",
    )
    p.add_argument(
        "--locks",
        action="store_true",
        help="also print every lock's statistics in lockmeter's layout (UTIL, CON, HOLD, WAIT, "
        "spin share of all CPUs; kmapsim.lockstat); with --json, add them as key 'lockmeter'",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "study",
        help=f"the main study: every strategy at 1..64 CPUs in {len(REGIMES)} regimes plus an "
        "IPI-latency sweep; answers the seed mail",
        description="Answer both halves of the seed mail's question (Mark Hemment, lse-tech, 3 "
        "July 2001): (a) is an asynchronous flush_tlb_all() under kmap_lock safe, and (b) does "
        "it fix kmap_lock contention on big machines? Run every flush strategy on a preset at "
        f"each CPU count (default 1..64) and seed, in {len(REGIMES)} regimes: "
        + "; ".join(f"{regime.name} ({regime.about})" for regime in REGIMES)
        + ". Then, in the safety regime at 8 and 64 CPUs (the smallest and largest count when "
        "--cpus lacks them), sweep the IPI latency. Print, at those counts, throughput, its "
        "change from sync, stale TLB accesses and where the cycles go, with a verdict line per "
        "half. Write into DIR: "
        + ", ".join(STUDY_FILES)
        + " (study.sqlite is a store: a rerun skips finished runs).",
    )
    p.add_argument(
        "--out",
        default="kmapsim-study",
        metavar="DIR",
        help="output directory, created if missing (its parent must exist; default %(default)s)",
    )
    _add_base_options(
        p, "the machine", ". Its cpus and strategy are replaced by --cpus and --strategies"
    )
    p.add_argument(
        "--cpus",
        type=_int_list,
        default=[1, 2, 4, 8, 16, 32, 64],
        metavar="N,N,...",
        help="CPU counts (default 1,2,4,8,16,32,64)",
    )
    p.add_argument(
        "--strategies",
        type=_name_list,
        default=None,
        metavar="S,S,...",
        help="flush strategies (default: all, see `kmapsim strategies`)",
    )
    p.add_argument("--seeds", type=_count, default=3, help="seeds 0..N-1 per point (default 3)")
    p.add_argument(
        "--cycles", type=_count, default=20_000_000, help="cycles per run (default 20_000_000)"
    )
    _add_run_options(p)
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser(
        "sweep",
        help="run a grid of scenario fields x seeds; print, store, tabulate and plot it",
        description="Run a preset or a --scenario file (with --set changes) for every "
        "combination of the --grid values and every seed. A TOML --grid-file may give [base] "
        "(preset = NAME, field values and program, as --program), [grid] (field = [values], "
        "program = [programs] too) and [run] (seeds, cycles); "
        "options on the command line win over the file. The base scenario is --scenario or "
        "--preset (else the file's preset), then the file's [base] values, then --set. A "
        "field is either fixed ([base], --set, --program) or varied ([grid], --grid), never "
        "both. A --program (or [base] program) runs at the points whose workload is custom; "
        "one that no point runs is refused.",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=V1,V2,...",
        help="a field and its values (repeatable)",
    )
    p.add_argument("--grid-file", metavar="FILE", help="a TOML file: [base], [grid], [run]")
    _add_base_options(p)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set a scenario field for every run (repeatable)",
    )
    _add_program_option(p)
    p.add_argument("--seeds", type=_count, default=None, help="seeds 0..N-1 per point (default 1)")
    p.add_argument(
        "--cycles", type=_count, default=None, help="cycles per run (default 10_000_000)"
    )
    p.add_argument(
        "--store",
        metavar="FILE",
        help="SQLite store, created if missing: reruns skip finished runs",
    )
    p.add_argument("--out", metavar="TABLE", help="write the rows to a .parquet (.pq) or .csv file")
    p.add_argument(
        "--plots",
        metavar="DIR",
        help="write scaling, breakdown and lock_wait PNGs into DIR (created if missing; its "
        "parent must exist)",
    )
    _add_run_options(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "trace",
        help="run one scenario with the event trace on; write it for the Perfetto UI",
        description="Run one scenario keeping its newest --cap engine events, and write them as "
        "Chrome trace-event JSON (-o FILE) that https://ui.perfetto.dev and chrome://tracing "
        "open: a track per CPU with a slice per cycle category, arrows from each flush IPI to "
        "its handler, and counters (kmap_lock queue, free slots, IPIs in flight). A run that "
        "records no event (the first come after the CPUs' first stretch of work, some thousand "
        "cycles) writes no file and exits with status 2: give it more --cycles.",
    )
    _add_base_options(p)
    _add_field_options(p)
    p.add_argument("--cycles", type=_count, required=True, help="simulated cycles")
    p.add_argument("--seed", type=_count, default=0, help="random seed (default 0)")
    p.add_argument(
        "--cap",
        type=_count,
        default=200_000,
        metavar="EVENTS",
        help="keep the newest EVENTS engine events, dropping older ones (default 200_000; "
        "about 1 KB of memory per kept event while exporting)",
    )
    p.add_argument(
        "-o", "--out", required=True, metavar="FILE.json", help="the .json file to write"
    )
    p.set_defaults(func=_cmd_trace)

    p = sub.add_parser(
        "presets",
        help="list the presets and their values",
        description="List every preset and its values.",
    )
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser(
        "workloads",
        help="list the workloads the tasks can run",
        description="List the workloads (the scenario field workload): the kernel path each "
        "stands for. custom runs the scenario's own program (--program on run, trace and "
        "sweep; program in a scenario file).",
    )
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=_cmd_workloads)

    p = sub.add_parser(
        "strategies",
        help="list the flush strategies and whether each is safe",
        description="List the flush strategies: what each does, and whether it can read a stale "
        "TLB entry (safe or UNSAFE).",
    )
    p.set_defaults(func=_cmd_strategies)

    p = sub.add_parser(
        "check",
        help="explore every interleaving of a small machine: prove a strategy safe within a "
        "bound, or print its shortest counterexample",
        description="Explore every interleaving of a small machine with the simulator's own "
        "transition rules, breadth-first (depth-first past --max-frontier): from each state "
        "any CPU's stretch may end, any IPI in flight may arrive, any block may end, any free "
        "lock may be granted, and every random choice branches. Prints the verdict (safe, stale "
        "access, deadlock, bug, or bound reached) and a counterexample step by step (a "
        "shortest one unless found depth-first). The machine is the checker's default (no hot "
        "pages, no interrupts-off sections or context switches, one "
        "lookup per copy, no unrelated TLB evictions) or a --scenario file, then --strategy, "
        "--cpus, --slots, --pages, --tasks, --set and --program change it "
        "(docs/verification.md). Exit status 0 safe, 3 counterexample, 5 bound reached.",
    )
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="start the machine from a scenario file (.toml or .json) instead of the "
        "checker's default",
    )
    _add_field_options(p)
    p.add_argument("--slots", type=_count, help="pkmap slots, last_pkmap (default 2)")
    p.add_argument("--pages", type=_count, help="highmem pages (default 3)")
    p.add_argument("--tasks", type=_count, help="tasks (default 0: one per CPU)")
    p.add_argument(
        "--max-states",
        type=_count,
        metavar="N",
        help="stop with 'bound reached' after N distinct states (default 2_000_000; about 100 "
        "bytes of memory each; not with --pct)",
    )
    p.add_argument(
        "--max-frontier",
        type=_count,
        metavar="N",
        help="go on depth-first once a breadth-first level would hold more than N machines "
        "(default 100_000; a few KB each): the same states in less memory, but a "
        "counterexample found depth-first is not known to be a shortest one, nor of the kind a "
        "shortest one is, and a depth-first path runs far deeper than the levels: raise "
        "--max-depth with it (not with --pct)",
    )
    p.add_argument(
        "--max-depth",
        type=_count,
        metavar="N",
        help="explore paths of at most N events (default 10_000; not with --pct)",
    )
    p.add_argument(
        "--max-ipis",
        type=_count,
        metavar="N",
        help="do not take a transition that leaves more than N IPIs sent to a CPU and not "
        "handled yet (default: no bound); async and guarded have infinitely many states "
        "without one, and a safe verdict then holds within it (not with --pct)",
    )
    p.add_argument(
        "--threads",
        type=_count,
        metavar="N",
        help="expand each breadth-first level on N threads (default: every core this process "
        "may run on); the result is the same for any N (not with --pct)",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        help="stop (exit status 4) after S seconds of wall time; past them in the search for "
        "a timed witness, the verdict found is printed with no witness instead",
    )
    p.add_argument(
        "--trace",
        metavar="FILE.json",
        help="write the counterexample, replayed by the engine, as a Perfetto trace (one "
        "cycle per step)",
    )
    p.add_argument(
        "--witness",
        metavar="DIR",
        help="write the counterexample's timed witness into DIR: scenario.toml and calls.csv, "
        "which 'kmapsim run --replay-calls' replays to the same violation (the command is "
        "printed)",
    )
    p.add_argument(
        "--witness-tries",
        type=_count,
        default=1000,
        metavar="N",
        help="timings to draw in search of a timed witness (default 1000; 0: no search)",
    )
    p.add_argument(
        "--no-symmetry",
        action="store_true",
        default=None,
        help="count states that differ only by a renaming of the CPUs or of the pages "
        "separately (by default they count once when the machine allows it: every CPU runs "
        "one task with the same pages; every kmap draws its page from a class; not with --pct)",
    )
    p.add_argument(
        "--pct",
        type=_count,
        metavar="RUNS",
        help="for machines too big to enumerate: RUNS randomised runs (PCT, with its "
        "probability bound) instead of the exhaustive search",
    )
    p.add_argument(
        "--pct-steps",
        type=_count,
        metavar="K",
        help="steps a PCT run (default 100; with --pct only)",
    )
    p.add_argument(
        "--pct-depth",
        type=_count,
        metavar="D",
        help="the bug depth PCT's bound is for (default 3; with --pct only)",
    )
    p.add_argument("--seed", type=_count, help="PCT's random seed (default 0; with --pct only)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser(
        "fields",
        help="list the scenario fields with their ranges and defaults",
        description="List every scenario field: its default, allowed values, unit and meaning.",
    )
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=_cmd_fields)

    for command in _subparsers(parser).values():
        command.epilog = parser.epilog
        command.formatter_class = _HelpFormatter
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser``, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _add_base_options(
    p: argparse.ArgumentParser, what: str = "the scenario", note: str = ""
) -> None:
    """``--preset NAME`` or ``--scenario FILE`` (not both): where the scenario starts. Options
    that set fields (``--cpus``, ``--strategy``, ``--set``) then change it. ``what`` names
    the scenario in the help ("start WHAT from ..."); ``note`` is a sentence added to both."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help=f"start {what} from this preset (default {DEFAULT_PRESET}; `kmapsim presets` "
        f"lists them){note}",
    )
    group.add_argument(
        "--scenario",
        metavar="FILE",
        help=f"start {what} from a scenario file (.toml or .json: flat field = value keys,"
        f" optionally preset = NAME), instead of a preset{note}",
    )


def _add_field_options(p: argparse.ArgumentParser) -> None:
    """``--cpus``, ``--strategy``, ``--set FIELD=VALUE`` and ``--program TEXT``: changes to
    the base scenario."""
    p.add_argument("--cpus", type=_count, help="number of CPUs")
    p.add_argument("--strategy", help="flush strategy (see `kmapsim strategies`)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set any scenario field (repeatable; see `kmapsim fields`)",
    )
    _add_program_option(p)


def _add_program_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--program",
        metavar="TEXT",
        help="run this custom program (workload custom, unless --set gives the workload): "
        "steps separated by ';', each an op and field=value words, e.g. "
        "'work; kmap handle=src page=hot; access handle=src; kunmap handle=src' "
        "(ops: " + ", ".join(_core.PROGRAM_OPS) + "; docs/model.md, section 16)",
    )


def _base_scenario(
    args: argparse.Namespace, default_preset: str = DEFAULT_PRESET
) -> tuple[str, Scenario]:
    """Where the scenario starts, by ``--scenario`` or ``--preset``: a label for the output
    (``preset NAME`` or ``scenario FILE``) and the scenario."""
    if args.scenario is not None:
        return f"scenario {shown_path(args.scenario)}", Scenario.from_file(args.scenario)
    preset = args.preset if args.preset is not None else default_preset
    return f"preset {preset}", Scenario.preset(preset)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--serial", action="store_true", help="run in one thread (default: one per core)"
    )


# -- checks before running -----------------------------------------------------------------------


_STORE_ALLOWED = "a kmapsim store file (SQLite), or a new file in a writable directory"


def _check_store(option: str, path: Path) -> None:
    """An existing store is opened and closed, so that a store that is damaged, of another
    format, read-only or in a read-only directory fails before any run (`StoreError`). A new
    one needs a writable directory: the sweep creates it, still before its first run."""
    allowed = _STORE_ALLOWED
    try:
        if path.is_dir():
            raise ScenarioError.of(option, f"{path} is a directory", allowed)
        _writable_dir(option, path.parent, str(path))  # SQLite writes its journal next to it
        exists = path.exists()
    except OSError as e:
        raise ScenarioError.of(
            option, f"{path}: {e.strerror or type(e).__name__}", allowed
        ) from None
    if exists:
        Store(path).close()


def _seed_count(seeds: object) -> int | None:
    """How many seeds ``seeds`` (a count or a list) gives; None if it is neither (the sweep
    then says what is wrong with it)."""
    if isinstance(seeds, bool):
        return None
    if isinstance(seeds, int):
        return seeds
    if isinstance(seeds, list):
        return len(seeds)
    return None


def _check_counts(seeds: object, cycles: object, points: int) -> None:
    """``seeds`` (a count must be >= 1), ``cycles`` and the number of runs, checked before the
    sweep lists its runs (a count of 10**18 seeds would exhaust memory listing them)."""
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds < 1:
        raise ScenarioError.of("--seeds", f"{quote(seeds)}", "a count >= 1")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= MAX_CYCLES:
        raise ScenarioError.of("--cycles", f"{quote(cycles)}", int_range(1, MAX_CYCLES))
    n = _seed_count(seeds)
    if n is not None and points * n > MAX_RUNS:
        raise ScenarioError.of(
            "runs",
            f"{_big(points)} grid point{'' if points == 1 else 's'} x {_big(n)} seed"
            f"{'' if n == 1 else 's'} = {_big(points * n)} runs",
            f"at most {MAX_RUNS:,} runs in one command: split it into several commands "
            "that share one --store",
        )


def _big(n: int) -> str:
    return f"{n:,}" if n < 10**24 else quote(n)


# -- commands ------------------------------------------------------------------------------------


def _cmd_study(args: argparse.Namespace) -> int:
    from kmapsim.plots import PlotsUnavailable, require_matplotlib
    from kmapsim.study import all_strategies, run_study

    # Everything run_study would find wrong, found before it creates the output directory.
    _, base = _base_scenario(args)
    strategies = args.strategies if args.strategies is not None else all_strategies()
    for cpus, strategy in itertools.product(args.cpus, strategies):
        base.replace(cpus=cpus, strategy=strategy)
    _check_counts(args.seeds, args.cycles, len(args.cpus) * len(strategies))
    outdir = _output_dir("--out", args.out, STUDY_FILES)
    args.store_path = outdir / "study.sqlite"
    distinct({"--out": [outdir / f for f in STUDY_FILES]}, {"--scenario": args.scenario})
    plots = True
    try:
        require_matplotlib()
    except PlotsUnavailable as e:
        # The runs and tables are the study; the plots are worth a warning, not a failure.
        _warn(f"{e}; writing the tables without plots")
        plots = False
    if outdir.is_dir():  # else the study creates the directory and a new store in it
        _check_store("--out", args.store_path)

    with _writing("--out", outdir):
        study = run_study(
            args.out,
            preset=args.preset,
            scenario=args.scenario,
            cpus=args.cpus,
            strategies=args.strategies,
            seeds=args.seeds,
            cycles=args.cycles,
            executor="serial" if args.serial else None,
            progress=not args.no_progress,
            plots=plots,
        )
    print(study.summary())
    print()
    print(_reuse_line(study.store, study.result.reused, study.runs))
    names = ", ".join(shown_path(p.name) for p in study.paths)
    print(f"wrote {shown_path(f'{study.outdir}{os.sep}')}: {names}")
    print(f"in {study.seconds:.1f} s")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    grid_file = as_path(args.grid_file, GRID_FILE) if args.grid_file is not None else None
    spec = read_grid_file(grid_file) if grid_file is not None else {}
    base_values: dict[str, FieldValue] = dict(spec.get("base", {}))
    set_values = _overrides(
        argparse.Namespace(cpus=None, strategy=None, set=args.set, program=args.program)
    )
    grid: dict[str, list[Any]] = dict(spec.get("grid", {}))
    grid.update(_grid_args(args.grid))
    sources = _fixed_sources(args, base_values, set_values)
    _fixed_or_varied(args, sources, spec.get("grid", {}))
    fixed = {**base_values, **set_values}
    label, start_from = _base_scenario(args, spec.get("preset", DEFAULT_PRESET))
    base = _sweep_base(args, label, start_from, base_values, _with_grid_program(fixed, grid))
    seeds: Any = args.seeds if args.seeds is not None else spec.get("seeds", 1)
    cycles: Any = args.cycles if args.cycles is not None else spec.get("cycles", 10_000_000)
    points = 1
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError.of(
                name, f"grid values {quote(values)}", "a non-empty list of values"
            )
        points *= len(values)
    _check_counts(seeds, cycles, points)

    table = (
        _output_file("--out", args.out, TABLE_SUFFIXES, "a .parquet or .csv file")
        if args.out is not None
        else None
    )
    plots_dir = _output_dir("--plots", args.plots, PLOT_FILES) if args.plots is not None else None
    if plots_dir is not None:
        from kmapsim.plots import PlotsUnavailable, require_matplotlib

        try:
            require_matplotlib()
        except PlotsUnavailable as e:
            raise ScenarioError.of("--plots", str(e), "a run without --plots") from e
    args.store_path = as_path(args.store, "--store") if args.store is not None else None
    if args.store_path is not None and args.store_path.is_dir():
        # Said to be one, rather than to hold the files compared with it below.
        raise ScenarioError.of("--store", f"{args.store_path} is a directory", _STORE_ALLOWED)
    distinct(
        {
            "--store": args.store_path,
            "--out": table,
            "--plots": [plots_dir / f for f in PLOT_FILES] if plots_dir is not None else None,
        },
        {"--grid-file": args.grid_file, "--scenario": args.scenario},
    )
    if args.store_path is not None:
        _check_store("--store", args.store_path)

    result = sweep(
        base,
        grid=grid,
        seeds=seeds,
        cycles=cycles,
        executor="serial" if args.serial else None,
        progress=not args.no_progress,
        store=args.store,
    )
    written: list[Path] = []
    if table is not None:
        with _writing("--out", table), _replacing(table) as tmp:
            _table_writer(table)(result, tmp)
        written.append(table)
    if plots_dir is not None:
        from kmapsim.plots import save_all

        with _writing("--plots", plots_dir):
            written += save_all(result, plots_dir)

    n = len(result.seeds)
    changed = {**base_values, **set_values}
    print(
        f"kmapsim sweep: {label}"
        + (f" with {', '.join(f'{k}={v!r}' for k, v in changed.items())}" if changed else "")
        + f"; {_plural(len(result.frame), 'run')} ({_plural(n, 'seed')} x {result.cycles:,}"
        " cycles)"
    )
    print()
    # Stale accesses beside throughput: a strategy that is fast because it corrupts data
    # (async) must not look merely fast.
    print(
        f"throughput (kmaps per million cycles, all CPUs) across {_plural(n, 'seed')}; "
        "stale accesses summed over them"
    )
    print(sweep_summary_text(result.summary()))
    if args.store is not None or written:
        print()
    if args.store is not None:
        print(_reuse_line(Path(args.store), result.reused, len(result.frame)))
    if written:
        print("wrote " + ", ".join(shown_path(p) for p in written))
    print(f"in {time.perf_counter() - start:.1f} s")
    return 0


def _fixed_sources(
    args: argparse.Namespace, base_values: Mapping[str, object], set_values: Mapping[str, object]
) -> dict[str, str]:
    """Where each field fixed for every run of a sweep comes from, as an error names it."""
    fixed = {name: f"[base] of {args.grid_file}" for name in base_values}
    fixed |= {name: "--set" for name in set_values}
    if args.program is not None:
        fixed["program"] = "--program"
    return fixed


def _fixed_or_varied(
    args: argparse.Namespace, fixed: Mapping[str, str], file_grid: Mapping[str, object]
) -> None:
    """A field is fixed for every run ([base], --set, --program) or varied by the grid ([grid],
    --grid), never both: one of the two would be silently ignored. (Within each kind the
    command line wins over the file, as documented.)"""
    varied = {name: f"[grid] of {args.grid_file}" for name in file_grid}
    varied |= {_grid_name(item): "--grid" for item in args.grid}
    for name, where in varied.items():
        if name in fixed:
            raise ScenarioError.of(
                name,
                f"fixed by {fixed[name]} and varied by {where}",
                "a field in either the base scenario or the grid, not both",
            )


def _grid_name(item: str) -> str:
    """The field of a ``--grid field=v1,v2`` option (checked by `_grid_args` before)."""
    return item.partition("=")[0].strip()


def _with_grid_program(
    fixed: Mapping[str, FieldValue], grid: Mapping[str, Sequence[Any]]
) -> dict[str, FieldValue]:
    """The fixed values, with the grid's first program when the grid varies the program of a
    fixed custom workload: the base scenario needs one to exist, and every point replaces it."""
    out = dict(fixed)
    programs = grid.get("program")
    if programs and "program" not in out and out.get("workload") == CUSTOM:
        out["program"] = programs[0]
    return out


def _sweep_base(
    args: argparse.Namespace,
    label: str,
    start_from: Scenario,
    base_values: Mapping[str, FieldValue],
    fixed: Mapping[str, FieldValue],
) -> Scenario:
    """The sweep's base scenario: ``start_from`` with the ``fixed`` values; an error that the
    grid file's [base] values alone cause names the file."""
    try:
        return start_from.replace(**fixed)
    except ScenarioError:
        if not base_values:
            raise
        try:
            start_from.replace(**base_values)
        except ScenarioError as file_error:  # the file's values break a rule spanning fields
            where = f"{args.grid_file}: [base] on {label}"
            raise file_error.within(where) from None
        raise


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _reuse_line(store: Path, reused: int, total: int) -> str:
    return f"store {shown_path(store)}: reused {reused} of {total} runs, ran {total - reused}"


def _table_writer(out: Path) -> Callable[[SweepResult, Path], Path]:
    """How to write ``--out``, chosen from its suffix (checked before any run starts)."""
    if out.suffix.lower() in PARQUET_SUFFIXES:
        return lambda result, path: result.to_parquet(path)
    return lambda result, path: result.to_csv(path)


def _cmd_run(args: argparse.Namespace) -> int:
    label, base = _base_scenario(args)
    scenario = base.replace(**_overrides(args))
    # Each output checked on its own first (a directory, a suffix), so that one of them being
    # a directory is said so, not that it holds an input.
    save = record = None
    if args.save_scenario is not None:
        save = _output_file(
            "--save-scenario", args.save_scenario, SCENARIO_SUFFIXES, "a .toml or .json file"
        )
    if args.record_calls is not None:
        record = _output_file("--record-calls", args.record_calls, (".csv",), "a .csv file")
    distinct(
        {"--save-scenario": args.save_scenario, "--record-calls": args.record_calls},
        {"--scenario": args.scenario, "--replay": args.replay, "--replay-calls": args.replay_calls},
    )
    if save is not None:
        # Before the run, so that a run that deadlocks or is interrupted leaves it too.
        with _writing("--save-scenario", save), _replacing(save) as tmp:
            scenario.to_file(tmp)
    result = run(
        scenario,
        cycles=args.cycles,
        seed=args.seed,
        mode=args.mode,
        replay=args.replay,
        replay_calls=args.replay_calls,
        record_calls=record is not None,
    )
    if record is not None and result.calls is not None:
        with _writing("--record-calls", record), _replacing(record) as tmp:
            result.calls.to_csv(tmp, index=False)
    if args.json:
        doc = result.to_dict()
        if args.locks:
            doc["lockmeter"] = lock_stat_rows(
                result.lock_stats_rows, result.cycles, scenario.cpu_mhz
            )
        print(json.dumps(doc, allow_nan=False))
    else:
        print(format_result(result, label=label, base=base))
        tasks = _tasks_text(result)
        if tasks:
            print("\n" + tasks)
        if args.locks:
            text = lockmeter_text(result.lock_stats_rows, result.cycles, scenario.cpu_mhz)
            print("\n" + text)
        if args.save_scenario is not None:
            print(f"\nwrote {shown_path(args.save_scenario)}")
        if record is not None and result.calls is not None:
            print(f"\nwrote {shown_path(args.record_calls)}: {len(result.calls):,} calls")
    return 0


def _tasks_text(result: RunResult) -> str:
    """Where the tasks' time goes, and their scheduling counters, for ``kmapsim run``: only for
    a scenario that sets ``tasks`` or another workload than dbench ("" otherwise, so that the
    default output stays as it was)."""
    sc = result.scenario
    if sc.tasks == 0 and sc.workload == "dbench":
        return ""
    n = len(result.task_breakdown_rows)
    shares = task_state_shares(result.task_breakdown_rows)
    rows = [
        (state, f"{share * 100:.2f} %") for state, share in zip(TASK_STATES, shares, strict=True)
    ]
    header = (f"tasks (mean share over {n:,} tasks on {sc.cpus} CPUs)", "share")
    c = result.counters
    counts = [
        ("blocks", f"{c.get('blocks', 0):,}", "block steps (I/O sleeps)"),
        ("task switches", f"{c.get('task_switches', 0):,}", "a CPU switching to another task"),
        ("migrations", f"{c.get('migrations', 0):,}", "a task resumed on another CPU"),
        ("kunmaps, irqs off", f"{c.get('kunmaps_irqs_off', 0):,}", "with interrupts disabled"),
    ]
    lines = [f"workload {sc.workload}"]
    if sc.program_text is not None:
        lines[0] += f": {sc.program_text}"
    lines += ["", text_table(header, rows, right=(1,)), ""]
    lines.append(text_table(("scheduling", "count", ""), counts, right=(1,)))
    return "\n".join(lines)


def _cmd_trace(args: argparse.Namespace) -> int:
    from kmapsim.perfetto import write

    if not 1 <= args.cap <= MAX_TRACE:
        raise ScenarioError.of("--cap", f"{_big(args.cap)} is out of range", f"1 to {MAX_TRACE:_}")
    _, base = _base_scenario(args)
    scenario = base.replace(**_overrides(args))
    out = _output_file("--out", args.out, TRACE_SUFFIXES, "a .json file")
    distinct({"--out": out}, {"--scenario": args.scenario})
    result = run(scenario, cycles=args.cycles, seed=args.seed, trace=args.cap)
    if len(result.trace) == 0:
        # An empty trace would open as an empty screen in Perfetto: say why instead.
        raise ScenarioError.of(
            "--cycles",
            f"the run recorded no trace event in {result.cycles:,} cycles, so no trace was "
            f"written to {out}",
            "more cycles: the first events come after the CPUs' first stretch of work "
            "(try --cycles 100_000)",
        )
    with _writing("--out", out), _replacing(out) as tmp:
        write(result, tmp)
    kept, dropped = len(result.trace), result.trace_dropped
    # Two different counts: the engine events the run kept, and the trace-event records of the
    # file, which draws them (a slice per stretch of a CPU in one category, from two state
    # changes; counters at most one per nanosecond; an arrow per IPI; track names).
    phases = _trace_phases(out)
    records = sum(phases.values())
    parts = [
        f"{phases.get('X', 0):,} slices",
        f"{phases.get('i', 0):,} instants",
        f"{phases.get('C', 0):,} counter values",
        f"{phases.get('s', 0):,} IPI arrows of 2 records each",
        f"{phases.get('M', 0):,} track names",
    ]
    source = (
        f"the newest, kept by --cap {args.cap:_}; {dropped:,} older ones dropped"
        if dropped
        else "every event of the run"
    )
    print(
        f"wrote {shown_path(out)}: {records:,} trace-event records ({', '.join(parts)}), drawn "
        f"from {kept:,} engine events ({source}); {out.stat().st_size:,} bytes; open it in "
        "https://ui.perfetto.dev"
    )
    return 0


#: The phase of a trace-event record as `kmapsim.perfetto` writes it (compact JSON, one
#: ``"ph"`` key per record; a string value cannot hold this text, its quotes being escaped).
_PHASE = re.compile(rb'"ph":"([A-Za-z])"')


def _trace_phases(path: Path) -> dict[str, int]:
    """How many trace-event records of each phase the file at ``path`` holds, read in pieces
    (a trace file can be hundreds of MB)."""
    counts: dict[str, int] = {}
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            data = tail + chunk
            for m in _PHASE.finditer(data):
                key = m.group(1).decode()
                counts[key] = counts.get(key, 0) + 1
            # A match is 8 bytes: one that the cut splits starts in the last 7, and none fits
            # wholly in them, so nothing is counted twice.
            tail = data[-7:]
    return counts


#: ``kmapsim check``'s options that only one of its two searches reads, with their defaults:
#: the exhaustive search's bounds, and PCT's (--pct) settings. Each is refused with the other
#: search rather than silently ignored.
_EXHAUSTIVE_ONLY = {
    "--max-states": ("max_states", 2_000_000),
    "--max-depth": ("max_depth", 10_000),
    "--max-frontier": ("max_frontier", 100_000),
    "--max-ipis": ("max_ipis", None),
    "--no-symmetry": ("no_symmetry", False),
    "--threads": ("threads", None),
}
_PCT_ONLY = {
    "--pct-steps": ("pct_steps", 100),
    "--pct-depth": ("pct_depth", 3),
    "--seed": ("seed", 0),
}


def _search_options(args: argparse.Namespace) -> None:
    """Refuse an option of the search that does not run; give the others their defaults."""
    pct = args.pct is not None
    for option, (dest, default) in {**_EXHAUSTIVE_ONLY, **_PCT_ONLY}.items():
        applies = (option in _PCT_ONLY) == pct
        if getattr(args, dest) is None:
            # The other search's options stay None: `check` refuses them when given.
            if applies:
                setattr(args, dest, default)
        elif not applies and pct:
            raise ScenarioError.of(
                option,
                "given with --pct, which replaces the exhaustive search it applies to",
                f"--pct without {option}, or {option} without --pct",
            )
        elif not applies:
            raise ScenarioError.of(
                option,
                "given without --pct: it applies to PCT's random runs only",
                f"--pct RUNS with {option}, or no {option}",
            )


def _cmd_check(args: argparse.Namespace) -> int:
    from kmapsim.checker import MAX_THREADS, check, check_machine

    _search_options(args)
    for option, value, lo, hi in (
        ("--max-states", args.max_states, 1, 2**63 - 1),
        ("--max-depth", args.max_depth, 1, 2**32 - 1),
        ("--max-frontier", args.max_frontier, 1, 2**63 - 1),
        ("--max-ipis", 1 if args.max_ipis is None else args.max_ipis, 1, 2**32 - 2),
        ("--threads", args.threads, 1, MAX_THREADS),
        ("--pct", 1 if args.pct is None else args.pct, 1, 2**63 - 1),
        ("--pct-steps", args.pct_steps, 1, 2**32 - 1),
        ("--pct-depth", args.pct_depth, 1, 64),
        ("--seed", args.seed, 0, 2**64 - 1),
        ("--witness-tries", args.witness_tries, 0, 2**32 - 1),
    ):
        if value is not None and not lo <= value <= hi:
            raise ScenarioError.of(option, f"{_big(value)} is out of range", int_range(lo, hi))
    if args.max_seconds is not None and not 0 < args.max_seconds < math.inf:
        allowed = "a positive, finite number of seconds"
        raise ScenarioError.of("--max-seconds", f"got {quote(args.max_seconds)}", allowed)
    base = Scenario.from_file(args.scenario) if args.scenario is not None else check_machine()
    changes = _overrides(args)
    for option, name in (("slots", "last_pkmap"), ("pages", "pages"), ("tasks", "tasks")):
        value = getattr(args, option)
        if value is not None:
            if name in changes:
                raise ScenarioError.of(name, f"given by --{option} and --set", "one of them")
            changes[name] = value
    trace = None
    if args.trace is not None:
        trace = _output_file("--trace", args.trace, TRACE_SUFFIXES, "a .json file")
    witness_dir = None
    if args.witness is not None:
        if args.witness_tries == 0:
            raise ScenarioError.of("--witness", "given with --witness-tries 0", "tries >= 1")
        witness_dir = _output_dir("--witness", args.witness, ("scenario.toml", "calls.csv"))
    witness = [witness_dir / "scenario.toml", witness_dir / "calls.csv"] if witness_dir else None
    distinct({"--trace": trace, "--witness": witness}, {"--scenario": args.scenario})
    result = check(
        base.replace(**changes) if changes else base,
        max_states=args.max_states,
        max_depth=args.max_depth,
        max_frontier=args.max_frontier,
        max_ipis=args.max_ipis,
        symmetry=None if args.no_symmetry is None else not args.no_symmetry,
        threads=args.threads,
        pct_runs=args.pct,
        pct_steps=args.pct_steps,
        pct_depth=args.pct_depth,
        seed=args.seed,
        witness_tries=args.witness_tries,
        max_wall_seconds=args.max_seconds,
    )
    witness_line = None
    if witness_dir is not None:
        if result.witness is not None:
            with _writing("--witness", witness_dir):
                result.witness.save(witness_dir)
            witness_line = f"wrote {shown_path(witness_dir)}: {result.witness.command(witness_dir)}"
        else:
            why = result.witness_note or "no counterexample"
            witness_line = f"no witness written to {shown_path(witness_dir)}: {why}"
    if trace is not None and result.run is not None:
        from kmapsim.perfetto import write

        with _writing("--trace", trace), _replacing(trace) as tmp:
            write(result.run, tmp)
    if args.json:
        print(json.dumps(_check_json(result), allow_nan=False))
    else:
        print(result.summary())
        if trace is not None:
            shown = shown_path(trace)
            what = f"wrote {shown}" if result.run is not None else f"no counterexample: {shown}"
            print(f"\n{what}" + ("" if result.run is not None else " not written"))
        if witness_line is not None:
            print(f"\n{witness_line}")
    if result.verdict == "safe":
        return EXIT_OK
    return EXIT_BOUND if result.verdict == "bound reached" else EXIT_SIMULATION_FAILED


def _check_json(result: Any) -> dict[str, Any]:
    """`kmapsim check --json`: the verdict, the search's size, the bounds and the steps."""
    steps = None
    if result.counterexample is not None:
        steps = [
            dict(event=s.event, on=s.on, label=s.label, choices=list(s.choices), text=s.describe())
            for s in result.counterexample
        ]
    return dict(
        strategy=result.scenario.strategy,
        verdict=result.verdict,
        states=result.states,
        transitions=result.transitions,
        depth=result.depth,
        symmetric=result.symmetric,
        symmetry=list(result.symmetry),
        shortest=result.shortest,
        pruned=result.pruned,
        depth_first_from=result.depth_first_from,
        witness=None
        if result.witness is None
        else dict(
            calls=result.witness.calls.to_dict(orient="records"),
            seed=result.witness.seed,
            cycles=result.witness.cycles,
            tries=result.witness.tries,
        ),
        witness_note=result.witness_note,
        pct=result.pct,
        seconds=result.seconds,
        bound=result.bound,
        message=result.message,
        counterexample=steps,
        scenario=result.scenario.to_dict(),
    )


def _cmd_presets(args: argparse.Namespace) -> int:
    presets = {name: Scenario.preset(name) for name in preset_names()}
    if args.json:
        doc = {
            name: {
                "description": describe_preset(name),
                "values": sc.to_dict(),
                "sources": preset_sources(name),
            }
            for name, sc in presets.items()
        }
        print(json.dumps(doc, indent=2))
        return 0
    blocks = []
    for name, sc in presets.items():
        lines = [name]
        text = describe_preset(name)
        lines += textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="  ")
        sources = preset_sources(name)
        if sources:
            lines.append("  Each value this preset sets is followed by its source; '(default)'")
            lines.append("  marks the scenario defaults (sources in docs/model.md, section 11).")
        values = {k: str(v) for k, v in sc.to_dict().items()}
        width = max(map(len, values))
        vwidth = max(map(len, values.values()))
        indent = " " * (4 + width + 3 + vwidth + 2)
        for k, v in values.items():
            head = f"    {k:<{width}} = {v:<{vwidth}}  "
            note = sources.get(k, "(default)" if sources else "")
            wrapped = textwrap.wrap(note, max(40, 100 - len(indent))) or [""]
            lines.append((head + wrapped[0]).rstrip())
            lines += [indent + w for w in wrapped[1:]]
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks))
    return 0


def _cmd_workloads(args: argparse.Namespace) -> int:
    from kmapsim import workloads

    listed = workloads()
    if args.json:
        print(json.dumps(dict(listed), indent=2))
        return 0
    width = max(len(name) for name, _ in listed)
    for name, doc in listed:
        lines = textwrap.wrap(doc, max(40, 100 - width - 2))
        print(f"{name:<{width}}  {lines[0]}")
        for line in lines[1:]:
            print(" " * (width + 2) + line)
    return 0


def _cmd_strategies(args: argparse.Namespace) -> int:
    spec = next(s for s in Scenario.fields() if s["name"] == "strategy")
    names = spec["choices"] or []
    width = max(map(len, names))
    for name in names:
        verdict, doc = STRATEGY_DOCS.get(name, ("?", ""))
        print(f"{name:<{width}}  {verdict:<6}  {doc}".rstrip())
    return 0


def _cmd_fields(args: argparse.Namespace) -> int:
    rows = []
    for s in Scenario.fields():
        if s["kind"] == "choice":
            allowed = "|".join(s["choices"] or [])
        else:
            allowed = f"[{plain_number(s['min'])}, {plain_number(s['max'])}]"
        rows.append((s["name"], str(plain_number(s["default"])), allowed, s["unit"], s["doc"]))
    header = ("field", "default", "allowed", "unit", "meaning")
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for r in rows:
            print("| `" + r[0] + "` | " + " | ".join(c.replace("|", ", ") for c in r[1:]) + " |")
        return 0
    print(text_table(header, rows, right=(1,)))
    return 0


# -- entry point ---------------------------------------------------------------------------------


def _one_line(e: BaseException, args: argparse.Namespace | None = None) -> str:
    """Multi-line engine messages (a deadlock lists every stuck CPU) joined onto one line. A
    file name that holds a line break (or another character that does not print) is shown
    quoted, so that its name is not taken apart with the lines: the error's own file
    (``.path``, ``.filename``) and every path the command line was given (``args``)."""
    text = str(e)
    for name in _unprintable_names(e, args):
        text = text.replace(name, quote(name, 4 * len(name) + 2))
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def _unprintable_names(e: BaseException, args: argparse.Namespace | None) -> list[str]:
    """The file names `_one_line` quotes, with their directories (some messages name a file's
    directory), longest first: once a name is quoted, its escapes no longer hold the raw
    characters of a shorter one inside it."""
    given: list[object] = [getattr(e, "path", None), getattr(e, "filename", None)]
    if args is not None:
        given.extend(vars(args).values())
    names: set[str] = set()
    for value in given:
        if isinstance(value, Path):
            value = str(value)
        if not isinstance(value, str) or not value or value.isprintable():
            continue
        for name in (value, os.path.dirname(value), str(Path(value))):
            if _names_a_file(name):
                names.add(name)
    return sorted(names, key=len, reverse=True)


def _names_a_file(name: str) -> bool:
    """Whether `_one_line` quotes ``name``: it does not print, and it has a character that
    does besides (a name made only of line breaks or blanks, a directory called "\\n", would
    match every line break of a message, not a file name in it)."""
    return not name.isprintable() and any(c.isprintable() and not c.isspace() for c in name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status (see the module doc: 0 ok, 1 internal error,
    2 bad input, 3 deadlock or kernel BUG, 4 wall-clock limit, 130 interrupted, 141 broken
    pipe). It never raises, argparse's errors, ``--help`` and ``--version`` included: they
    return their status, so ``main`` can be called in-process."""
    _interrupt.release()  # the imports are done: from here KeyboardInterrupt is reported
    argv = list(sys.argv[1:] if argv is None else argv)
    restore = _tolerant_output()
    parsed: list[argparse.Namespace] = []
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return _dispatch(argv, parsed)
            except SystemExit as e:  # argparse: usage errors (2), --help and --version (0)
                return e.code if isinstance(e.code, int) else EXIT_OK if e.code is None else 2
            except BaseException as e:
                try:
                    return _report(e, parsed[0] if parsed else None)
                except Exception:  # stderr itself is gone: nothing left to tell
                    return EXIT_INTERNAL
    finally:
        restore()


def _dispatch(argv: list[str], parsed: list[argparse.Namespace]) -> int:
    """Parse ``argv`` (appending the namespace to ``parsed``) and run the command."""
    parser = build_parser()
    if any("\0" in arg for arg in argv):
        parser.error("an argument contains a NUL character")
    args = parser.parse_args(argv)
    args._argv = list(argv)  # which options were typed, for the errors (`_as_typed`)
    parsed.append(args)
    func: Callable[[argparse.Namespace], int] = args.func
    status = func(args)
    sys.stdout.flush()  # here, where a closed pipe is caught, rather than at exit
    return status


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Warnings as one ``kmapsim: warning:`` line, without the source line Python adds (the
    file a warning names, ``.path``, quoted if it does not print, as errors show it)."""
    text = str(message)
    path = getattr(message, "path", None)
    name = path if isinstance(path, str) and _names_a_file(path) else None
    if name is not None:
        # Set aside while blanks are squeezed, which must not touch the name's own.
        text = text.replace(name, "\0")
    text = " ".join(text.split())
    if name is not None:
        text = text.replace("\0", shown_path(name))
    kind = "" if category.__module__.startswith("kmapsim") else f"{category.__name__}: "
    _warn(kind + text)


def _report(e: BaseException, args: argparse.Namespace | None) -> int:
    """Print one line for ``e`` (and its traceback with KMAPSIM_DEBUG=1); return the status."""
    if _debug() and not isinstance(e, BrokenPipeError):
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    if isinstance(e, KeyboardInterrupt):
        # An interrupted check says how far it got (its message); a bare Ctrl-C says nothing.
        _error("interrupted" + (f" ({_one_line(e, args)})" if str(e) else ""))
        return EXIT_INTERRUPTED
    if isinstance(e, BrokenPipeError):
        # `kmapsim presets | head`: the reader left; do not let the flush at exit complain.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    if isinstance(e, (ScenarioError, StoreError)):  # ScenarioFileError is a ScenarioError
        if isinstance(e, ScenarioError):
            e = _as_typed(e, args)
        _error(_one_line(e, args))
        return EXIT_BAD_INPUT
    if isinstance(e, (DeadlockError, KernelBug)):
        _error(_one_line(e, args))
        return EXIT_SIMULATION_FAILED
    if isinstance(e, WallClockExceeded):
        # The engine names the Python argument; on the command line the limit is --max-seconds.
        _error(_one_line(e, args).replace("(max_wall_seconds = ", "(--max-seconds "))
        return EXIT_WALL_CLOCK
    if isinstance(e, MemoryError):
        _error(
            "out of memory; ask for less (fewer --cycles with a smaller --cap, fewer seeds or "
            "grid values) or free some memory"
        )
        return EXIT_BAD_INPUT
    store = getattr(args, "store_path", None)
    if store is not None and _store_failure(e):
        _error(
            f"{shown_path(store)}: the store failed ({type(e).__name__}: {_one_line(e)}); if it is "
            "damaged, use another file (a store only caches finished runs)"
        )
        return EXIT_BAD_INPUT
    if isinstance(e, OSError) and _users_fault(e, args):
        name = os.fsdecode(e.filename) if e.filename else ""
        where = (
            f"{name if name.isprintable() else quote(name, 4 * len(name) + 2)}: " if name else ""
        )
        if not e.filename and _from_stdout(e):
            where = "writing the standard output: "
        _error(f"{where}{e.strerror or _one_line(e)}")
        return EXIT_BAD_INPUT
    # InternalError (an engine panic), or anything the command line does not expect: a bug.
    what = _one_line(e) if isinstance(e, InternalError) else f"{type(e).__name__}: {_one_line(e)}"
    print(
        _cut(
            f"kmapsim: internal error: {what}; please report it with the command line and "
            f"the output of `kmapsim --version` ({DEBUG_ENV}=1 shows the traceback)"
        ),
        file=sys.stderr,
    )
    return EXIT_INTERNAL


#: Options that set a scenario field, possibly under another name: (dest, field, option).
_FIELD_OPTIONS = (
    ("slots", "last_pkmap", "--slots"),
    ("pages", "pages", "--pages"),
    ("tasks", "tasks", "--tasks"),
    ("cpus", "cpus", "--cpus"),
    ("strategies", "strategy", "--strategies"),
    ("strategy", "strategy", "--strategy"),
)


#: The fields of the files the command line reads by path, and the options that name them.
_FILE_OPTIONS = {"file": "--scenario", "replay": "--replay", "replay_calls": "--replay-calls"}


def _as_typed(e: ScenarioError, args: argparse.Namespace | None) -> ScenarioError:
    """``e`` naming the option the user typed (``--slots``, not ``last_pkmap``; ``--scenario``,
    not ``file``) when the field it names was given by one of `_FIELD_OPTIONS` or
    `_FILE_OPTIONS` on this command line."""
    if args is None:
        return e
    option = _FILE_OPTIONS.get(e.field)
    if option is not None and str(e).startswith(f"{e.field}: ") and _typed(args, option):
        if isinstance(e, ScenarioFileError):
            return ScenarioFileError.at(e.path, e.problem, e.allowed, option)
        return type(e).of(option, e.problem, e.allowed)
    if isinstance(e, ScenarioFileError):
        return e
    for dest, field, option in _FIELD_OPTIONS:
        given = getattr(args, dest, None) is not None and _typed(args, option)
        if given and e.field == field:
            return type(e).of(option, e.problem, e.allowed)
    return e


def _typed(args: argparse.Namespace, option: str) -> bool:
    """Whether the command line gave ``option`` (``--slots 3``, ``--slots=3``, or an
    abbreviation argparse took for it, ``--slot 3``: argparse takes a prefix only when it
    names one option, and an option typed whole names itself)."""
    given = (a.split("=", 1)[0] for a in getattr(args, "_argv", []) if a.startswith("--"))
    # An option typed whole is that option, not an abbreviation of a longer one (--replay is
    # not --replay-calls).
    whole = {o for _, _, o in _FIELD_OPTIONS} | set(_FILE_OPTIONS.values())
    return any(
        a == option or (len(a) > 2 and option.startswith(a) and a not in whole) for a in given
    )


def _from_stdout(e: OSError) -> bool:
    """Whether ``e`` (which names no file) came from writing the standard output: the line
    that raised it prints there (a ``print`` without ``file=``, or ``sys.stdout`` itself)."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    # The whole statement: a call spread over lines names its file= on a later one.
    end = last.end_lineno or last.lineno or 0
    lines = [linecache.getline(last.filename, n) for n in range(last.lineno or 0, end + 1)]
    text = " ".join(line.strip() for line in lines) or (last.line or "")
    return (text.startswith("print(") and "file=" not in text) or "sys.stdout" in text


def _store_failure(e: BaseException) -> bool:
    """Whether ``e`` is the store failing during a sweep (disk full, a damaged file): an
    `sqlite3.Error`, or any exception raised inside `kmapsim.store`."""
    if isinstance(e, sqlite3.Error):
        return True
    from kmapsim import store

    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == store.__file__:
            return True
        tb = tb.tb_next
    return False


def _users_fault(e: OSError, args: argparse.Namespace | None) -> bool:
    """Whether an OSError is about the user's environment or paths rather than kmapsim: the
    disk is full, read-only or not writable, or the file is one the command line names."""
    if e.errno in _ENVIRONMENT_ERRNOS:
        return True
    if not e.filename or args is None:
        return False
    named = [
        getattr(args, option, None)
        for option in (
            "out",
            "plots",
            "store",
            "save_scenario",
            "scenario",
            "grid_file",
            "replay",
            "replay_calls",
            "record_calls",
        )
    ]
    try:
        failed = Path(os.path.abspath(os.fsdecode(e.filename)))
        for given in named:
            if isinstance(given, str):
                path = Path(os.path.abspath(given))
                if failed == path or path in failed.parents:
                    return True
    except (TypeError, ValueError):
        return False
    return False


def _debug() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _tolerant_output() -> Callable[[], None]:
    """Let stdout and stderr print any text (a file name that is not valid UTF-8 becomes a
    lone surrogate, which a strict encoder refuses); returns how to undo it."""
    changed: list[io.TextIOWrapper] = []
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            with contextlib.suppress(OSError, ValueError):
                stream.reconfigure(errors="backslashreplace")
                changed.append(stream)

    def restore() -> None:
        for stream in changed:
            with contextlib.suppress(OSError, ValueError):
                stream.reconfigure(errors="strict")

    return restore


def _cut(line: str) -> str:
    """``line``, cut at MAX_MESSAGE characters unless KMAPSIM_DEBUG is set."""
    if len(line) <= MAX_MESSAGE or _debug():
        return line
    more = len(line) - MAX_MESSAGE
    return f"{line[:MAX_MESSAGE]}... ({more:,} more characters; {DEBUG_ENV}=1 shows them)"


def _error(message: str) -> None:
    print(_cut(f"kmapsim: error: {message}"), file=sys.stderr)


def _warn(message: str) -> None:
    print(_cut(f"kmapsim: warning: {message}"), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
