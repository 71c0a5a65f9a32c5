"""The ``kmapsim`` command line: the study, a sweep, a single run, and listings of presets,
strategies and fields.

Errors that the user can fix (a bad field, preset or argument) exit with status 2, the status
argparse uses for bad usage; a simulated deadlock or kernel BUG exits with 3, so scripts can tell
"you asked wrongly" from "the machine you described breaks". Both print one line, no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kmapsim import _core
from kmapsim.api import MODES, run
from kmapsim.errors import DeadlockError, KernelBug, KmapsimError, ScenarioError
from kmapsim.fileio import read_document
from kmapsim.histogram import Histogram
from kmapsim.presets import describe_preset, preset_names, preset_sources
from kmapsim.result import RunResult
from kmapsim.scenario import FieldValue, Scenario
from kmapsim.store import StoreError
from kmapsim.sweep import SweepResult, sweep

__all__ = ["build_parser", "main", "parse_value"]

EXIT_BAD_INPUT = 2
EXIT_SIMULATION_FAILED = 3
DEFAULT_PRESET = "pIII-8way-2001"

# One line each, for `kmapsim strategies`: the safety verdict (see docs/validation.md, where
# each is established) and what the strategy does.
STRATEGY_DOCS = {
    "sync": ("safe", "Linux 2.4: broadcast IPI, wait for every ack, all under kmap_lock"),
    "async": ("UNSAFE", "the 2001 proposal: send the IPI and do not wait"),
    "guarded": ("safe", "async, plus a flush-generation check at kmap and context switch"),
    "lazy": ("safe", "no IPI: each CPU catches up with the flush generation at kmap/switch"),
    "targeted": ("safe", "sync, but only to CPUs that may hold pkmap entries"),
    "local": ("safe", "kmap_local: per-CPU slots, no global lock, local invlpg, no IPI"),
}


# -- argument parsing ----------------------------------------------------------------------------


def parse_value(text: str) -> FieldValue:
    """A ``--set`` value: an int if it reads as one, else a float, else the string itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _count(text: str) -> int:
    """An argparse type for cycles and seeds: accepts ``200_000`` and whole floats like ``2e7``."""
    value = parse_value(text)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")


def _overrides(args: argparse.Namespace) -> dict[str, FieldValue]:
    """The scenario fields given on the command line, explicit options first, then ``--set``."""
    out: dict[str, FieldValue] = {}
    if args.cpus is not None:
        out["cpus"] = args.cpus
    if args.strategy is not None:
        out["strategy"] = args.strategy
    kinds = {s["name"]: s["kind"] for s in Scenario.fields()}
    for item in args.set:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ScenarioError.of("--set", f"{item!r} is not field=value", "field=value")
        if name in out:
            raise ScenarioError.of(name, "given twice on the command line", "one value per field")
        out[name] = _field_value(name, text.strip(), kinds)
    return out


def _field_value(name: str, text: str, kinds: Mapping[str, str]) -> FieldValue:
    """`parse_value`, taking ``1e6`` for an integer field as the engine's file reader does."""
    value = parse_value(text)
    if kinds.get(name) == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def _int_list(text: str) -> list[int]:
    """An argparse type for ``--cpus 1,2,4``."""
    bad = argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}")
    try:
        values = [_count(part.strip()) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError:
        raise bad from None
    if not values:
        raise bad
    return values


def _name_list(text: str) -> list[str]:
    """An argparse type for ``--strategies sync,lazy``."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected names separated by commas, got {text!r}")
    return values


def _grid_args(items: Sequence[str]) -> dict[str, list[FieldValue]]:
    """``--grid field=v1,v2`` options as a grid; each field at most once."""
    kinds = {s["name"]: s["kind"] for s in Scenario.fields()}
    grid: dict[str, list[FieldValue]] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not eq or not name or not values:
            raise ScenarioError.of("--grid", f"{item!r} is not field=v1,v2,...", "field=v1,v2,...")
        if name in grid:
            raise ScenarioError.of(name, "given twice in --grid", "one --grid per field")
        grid[name] = [_field_value(name, v, kinds) for v in values]
    return grid


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kmapsim",
        description="Simulate CPUs contending on the Linux 2.4 highmem kmap_lock.",
    )
    parser.add_argument("--version", action="version", version=f"kmapsim {_core.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run one scenario and print what it reports",
        description="Run one scenario: a preset or a --scenario file, then --cpus, --strategy "
        "and --set change fields of it.",
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
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "study",
        help="the main study: every strategy from 1 to 64 CPUs; writes tables and plots",
        description="Run every flush strategy on a preset for each CPU count and seed; write "
        "DIR/study.sqlite (a store: a rerun skips finished runs), study.parquet, study.csv "
        "and scaling.png, breakdown.png, lock_wait.png; print a summary table.",
    )
    p.add_argument(
        "--out",
        default="kmapsim-study",
        metavar="DIR",
        help="output directory (default %(default)s)",
    )
    _add_base_options(p, "the machine; its cpus and strategy are swept over")
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
        "(preset = NAME and field values), [grid] (field = [values]) and [run] (seeds, cycles); "
        "options on the command line win over the file. The base scenario is --scenario or "
        "--preset (else the file's preset), then the file's [base] values, then --set.",
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
    p.add_argument("--seeds", type=_count, default=None, help="seeds 0..N-1 per point (default 1)")
    p.add_argument(
        "--cycles", type=_count, default=None, help="cycles per run (default 10_000_000)"
    )
    p.add_argument("--store", metavar="FILE", help="SQLite store: reruns skip finished runs")
    p.add_argument("--out", metavar="TABLE", help="write the rows to a .parquet or .csv file")
    p.add_argument("--plots", metavar="DIR", help="write scaling, breakdown and lock_wait PNGs")
    _add_run_options(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "trace",
        help="run one scenario with the event trace on; write it for the Perfetto UI",
        description="Run one scenario keeping its newest --cap engine events, and write them as "
        "Chrome trace-event JSON (-o FILE) that https://ui.perfetto.dev and chrome://tracing "
        "open: a track per CPU with a slice per cycle category, arrows from each flush IPI to "
        "its handler, and counters (kmap_lock queue, free slots, IPIs in flight).",
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
    p.add_argument("-o", "--out", required=True, metavar="FILE", help="the JSON file to write")
    p.set_defaults(func=_cmd_trace)

    p = sub.add_parser("presets", help="list the presets and their values")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("strategies", help="list the flush strategies and which are modelled")
    p.set_defaults(func=_cmd_strategies)

    p = sub.add_parser("fields", help="list the scenario fields with their ranges and defaults")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.set_defaults(func=_cmd_fields)
    return parser


def _add_base_options(p: argparse.ArgumentParser, what: str = "the scenario") -> None:
    """``--preset NAME`` or ``--scenario FILE`` (not both): where the scenario starts. Options
    that set fields (``--cpus``, ``--strategy``, ``--set``) then change it."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--preset", default=None, help=f"start {what} from this preset (default {DEFAULT_PRESET})"
    )
    group.add_argument(
        "--scenario",
        metavar="FILE",
        help=f"start {what} from a scenario file (.toml or .json: flat field = value keys,"
        " optionally preset = NAME), instead of a preset",
    )


def _add_field_options(p: argparse.ArgumentParser) -> None:
    """``--cpus``, ``--strategy`` and ``--set FIELD=VALUE``: changes to the base scenario."""
    p.add_argument("--cpus", type=_count, help="number of CPUs")
    p.add_argument("--strategy", help="flush strategy (see `kmapsim strategies`)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set any scenario field (repeatable; see `kmapsim fields`)",
    )


def _base_scenario(
    args: argparse.Namespace, default_preset: str = DEFAULT_PRESET
) -> tuple[str, Scenario]:
    """Where the scenario starts, by ``--scenario`` or ``--preset``: a label for the output
    (``preset NAME`` or ``scenario FILE``) and the scenario."""
    if args.scenario is not None:
        return f"scenario {args.scenario}", Scenario.from_file(args.scenario)
    preset = args.preset or default_preset
    return f"preset {preset}", Scenario.preset(preset)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--serial", action="store_true", help="run in one thread (default: one per core)"
    )


# -- commands ------------------------------------------------------------------------------------


def _cmd_study(args: argparse.Namespace) -> int:
    from kmapsim.plots import PlotsUnavailable, require_matplotlib
    from kmapsim.study import run_study

    plots = True
    try:
        require_matplotlib()
    except PlotsUnavailable as e:
        # The runs and tables are the study; the plots are worth a warning, not a failure.
        _warn(f"{e}; writing the tables without plots")
        plots = False
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
    print(f"wrote {study.outdir}{os.sep}: " + ", ".join(p.name for p in study.paths))
    print(f"in {study.seconds:.1f} s")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    spec = _read_grid_file(Path(args.grid_file)) if args.grid_file else {}
    base_values: dict[str, FieldValue] = dict(spec.get("base", {}))
    set_values = _overrides(argparse.Namespace(cpus=None, strategy=None, set=args.set))
    label, start_from = _base_scenario(args, spec.get("preset") or DEFAULT_PRESET)
    base = start_from.replace(**{**base_values, **set_values})
    grid: dict[str, list[Any]] = dict(spec.get("grid", {}))
    grid.update(_grid_args(args.grid))
    seeds = args.seeds if args.seeds is not None else spec.get("seeds", 1)
    cycles = args.cycles if args.cycles is not None else spec.get("cycles", 10_000_000)
    table_writer = _table_writer(args.out) if args.out else None
    if args.plots:
        from kmapsim.plots import PlotsUnavailable, require_matplotlib

        try:
            require_matplotlib()
        except PlotsUnavailable as e:
            raise ScenarioError.of("--plots", str(e), "a run without --plots") from e

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
    if table_writer is not None:
        written.append(table_writer(result))
    if args.plots:
        from kmapsim.plots import save_all

        written += save_all(result, args.plots)

    n = len(result.seeds)
    changed = {**base_values, **set_values}
    print(
        f"kmapsim sweep: {label}"
        + (f" with {', '.join(f'{k}={v!r}' for k, v in changed.items())}" if changed else "")
        + f"; {_plural(len(result.frame), 'run')} ({_plural(n, 'seed')} x {result.cycles:,}"
        " cycles)"
    )
    print()
    print(f"throughput (kmaps per million cycles, all CPUs) across {_plural(n, 'seed')}")
    summary = result.summary()
    rows = [
        [
            *(str(k) for k in (key if isinstance(key, tuple) else (key,))),
            f"{stats['mean']:,.1f}",
            "-" if math.isnan(stats["std"]) else f"{stats['std']:,.1f}",
            f"{stats['min']:,.1f}",
            f"{stats['max']:,.1f}",
        ]
        for key, stats in summary.iterrows()
    ]
    keys = [str(k) for k in summary.index.names]
    header = [*keys, "mean", "std", "min", "max"]
    print(_table(header, rows, right=range(len(keys), len(header))))
    if args.store or written:
        print()
    if args.store:
        print(_reuse_line(Path(args.store), result.reused, len(result.frame)))
    if written:
        print("wrote " + ", ".join(str(p) for p in written))
    print(f"in {time.perf_counter() - start:.1f} s")
    return 0


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _reuse_line(store: Path, reused: int, total: int) -> str:
    return f"store {store}: reused {reused} of {total} runs, ran {total - reused}"


#: What a --grid-file may hold: table -> allowed keys (None: scenario fields).
_GRID_FILE_TABLES = ("base", "grid", "run")
_RUN_KEYS = ("seeds", "cycles")


def _read_grid_file(path: Path) -> dict[str, Any]:
    """A TOML sweep description: ``[base]`` (``preset`` and field values), ``[grid]``
    (field = [values]) and ``[run]`` (``seeds``, ``cycles``). Returns a dict with the keys
    preset, base, grid, seeds and cycles, those given only. Any unknown table or key is a
    ScenarioError naming it."""
    doc = read_document(path, field="--grid-file", fmt="toml")
    names = [s["name"] for s in Scenario.fields()]
    out: dict[str, Any] = {}

    def unknown(key: str, where: str, allowed: Sequence[str]) -> ScenarioError:
        import difflib

        close = difflib.get_close_matches(key, list(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return ScenarioError.of(
            key, f"unknown key in {where} of {path}{hint}", "one of " + ", ".join(allowed)
        )

    for table, body in doc.items():
        if table not in _GRID_FILE_TABLES:
            raise unknown(table, "the top level", [f"[{t}]" for t in _GRID_FILE_TABLES])
        if not isinstance(body, dict):
            raise ScenarioError.of(table, f"in {path} is not a table", f"a [{table}] table")
    for key, value in doc.get("base", {}).items():
        if key == "preset":
            if not isinstance(value, str):
                raise ScenarioError.of("preset", f"in [base] of {path}: {value!r}", "a name")
            out["preset"] = value
        elif key not in names:
            raise unknown(key, "[base]", ["preset", *names])
        else:
            out.setdefault("base", {})[key] = value
    for key, value in doc.get("grid", {}).items():
        if key not in names:
            raise unknown(key, "[grid]", names)
        out.setdefault("grid", {})[key] = value
    for key, value in doc.get("run", {}).items():
        if key not in _RUN_KEYS:
            raise unknown(key, "[run]", _RUN_KEYS)
        out[key] = value
    return out


def _table_writer(out: str) -> Callable[[SweepResult], Path]:
    """How to write ``--out``: chosen from its suffix before any run starts."""
    suffix = Path(out).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return lambda result: result.to_parquet(out)
    if suffix == ".csv":
        return lambda result: result.to_csv(out)
    raise ScenarioError.of("--out", f"{out!r} has no known table suffix", "a .parquet or .csv file")


def _cmd_run(args: argparse.Namespace) -> int:
    label, base = _base_scenario(args)
    scenario = base.replace(**_overrides(args))
    if args.save_scenario:
        # Before the run, so that a run that deadlocks or is interrupted leaves it too.
        scenario.to_file(args.save_scenario)
    result = run(scenario, cycles=args.cycles, seed=args.seed, mode=args.mode, replay=args.replay)
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(format_result(result, label=label, base=base))
        if args.save_scenario:
            print(f"\nwrote {args.save_scenario}")
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from kmapsim.api import MAX_TRACE
    from kmapsim.perfetto import write

    if not 1 <= args.cap <= MAX_TRACE:
        raise ScenarioError.of("--cap", f"{args.cap} is out of range", f"1 to {MAX_TRACE:_}")
    _, base = _base_scenario(args)
    scenario = base.replace(**_overrides(args))
    result = run(scenario, cycles=args.cycles, seed=args.seed, trace=args.cap)
    path = write(result, args.out)
    kept, dropped = len(result.trace), result.trace_dropped
    print(
        f"wrote {path}: {kept:,} events ({dropped:,} older ones dropped), "
        f"{path.stat().st_size:,} bytes; open it in https://ui.perfetto.dev"
    )
    return 0


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
            allowed = f"[{_num(s['min'])}, {_num(s['max'])}]"
        rows.append((s["name"], str(_num(s["default"])), allowed, s["unit"], s["doc"]))
    header = ("field", "default", "allowed", "unit", "meaning")
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for r in rows:
            print("| `" + r[0] + "` | " + " | ".join(c.replace("|", ", ") for c in r[1:]) + " |")
        return 0
    print(_table(header, rows, right=(1,)))
    return 0


# -- formatting ----------------------------------------------------------------------------------


def _num(x: object) -> object:
    """700.0 -> 700: bounds and defaults read better without a trailing .0."""
    return int(x) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else x


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Rows as aligned text columns (right-aligned where listed), the last column left ragged."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header)] + [line(r) for r in rows])


def _fmt_quantile(h: Histogram, q: float) -> str:
    return f"{h.quantile(q):,}" if h.count else "-"


def format_result(
    result: RunResult,
    preset: str = DEFAULT_PRESET,
    *,
    label: str | None = None,
    base: Scenario | None = None,
) -> str:
    """The human summary printed by ``kmapsim run``. Its first line names where the scenario
    came from, ``label`` (default ``preset PRESET``), and the fields that differ from ``base``
    (default the preset)."""
    sc = result.scenario
    start = (base if base is not None else Scenario.preset(preset)).to_dict()
    changed = [f"{k}={v!r}" for k, v in sc.to_dict().items() if start.get(k) != v]
    c = result.counters
    out = [
        f"kmapsim {_core.__version__}: {label if label is not None else f'preset {preset}'}"
        + (f" with {', '.join(changed)}" if changed else ""),
        f"{result.cycles:,} cycles ({result.simulated_seconds * 1e3:.3f} ms at {_num(sc.cpu_mhz)}"
        f" MHz) on {sc.cpus} CPUs, strategy {sc.strategy}, seed {result.seed}, mode {result.mode};"
        f" {result.events:,} events in {result.wall_seconds:.3f} s",
        "",
    ]
    headline = [
        ("kmaps", f"{result.kmaps:,}", ""),
        ("throughput", f"{result.throughput:,.1f}", "kmaps per million cycles"),
        ("bandwidth", f"{result.mb_per_second:,.1f}", "MB/s (4 KiB per kmap, MB = 10^6 bytes)"),
        ("flushes", f"{c.get('flushes', 0):,}", ""),
        ("IPIs sent", f"{c.get('ipis_sent', 0):,}", ""),
        ("stale accesses", f"{c.get('stale_accesses', 0):,}", ""),
        ("sleeps", f"{c.get('sleeps', 0):,}", ""),
    ]
    out.append(_table(("headline", "value", ""), headline, right=(1,)))
    out.append("")

    shares = result.shares().mean(axis=0) * 100.0
    rows = [(str(cat), f"{share:.2f} %") for cat, share in shares.items()]
    out.append(_table((f"cycles (mean share over {sc.cpus} CPUs)", "share"), rows, right=(1,)))
    out.append("")

    dist_rows = [
        (
            name,
            f"{h.count:,}",
            f"{h.mean:,.1f}" if h.count else "-",
            _fmt_quantile(h, 0.5),
            _fmt_quantile(h, 0.9),
            _fmt_quantile(h, 0.99),
            f"{h.max:,}" if h.count else "-",
        )
        for name, h in result.histograms.items()
    ]
    header = ("distribution (cycles)", "count", "mean", "p50<=", "p90<=", "p99<=", "max")
    out.append(_table(header, dist_rows, right=range(1, 7)))

    if result.violations:
        out.append("")
        out.append(f"first stale accesses ({len(result.violations)} kept):")
        for v in result.violations:
            by = "?" if v.remapped_by is None else f"cpu{v.remapped_by}"
            out.append(
                f"  cycle {v.cycle:,} cpu{v.cpu} slot {v.slot}: expected page {v.expected_page},"
                f" reached page {v.actual_page} (entry loaded at {v.entry_loaded_at:,},"
                f" slot remapped at {v.slot_remapped_at:,} by {by})"
            )
    return "\n".join(out)


# -- entry point ---------------------------------------------------------------------------------


def _one_line(e: BaseException) -> str:
    """Multi-line engine messages (a deadlock lists every stuck CPU) joined onto one line."""
    return "; ".join(part.strip() for part in str(e).splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 3 deadlock or kernel BUG)."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ScenarioError, StoreError) as e:
        _error(_one_line(e))
        return EXIT_BAD_INPUT
    except (DeadlockError, KernelBug, KmapsimError) as e:
        _error(_one_line(e))
        return EXIT_SIMULATION_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # `kmapsim presets | head`: the reader left; do not let the flush at exit complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:
        # An output file or directory that cannot be written (study, sweep --out/--plots).
        _error(_one_line(e))
        return 1


def _error(message: str) -> None:
    print(f"kmapsim: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"kmapsim: warning: {message}", file=sys.stderr)
