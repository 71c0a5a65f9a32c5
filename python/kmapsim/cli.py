"""The ``kmapsim`` command line: a single run, and listings of presets, strategies and fields.

Errors that the user can fix (a bad field, preset or argument) exit with status 2, the status
argparse uses for bad usage; a simulated deadlock or kernel BUG exits with 3, so scripts can tell
"you asked wrongly" from "the machine you described breaks". Both print one line, no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence

from kmapsim import _core
from kmapsim.api import MODES, run
from kmapsim.errors import DeadlockError, KernelBug, KmapsimError, ScenarioError
from kmapsim.histogram import Histogram
from kmapsim.presets import describe_preset, preset_names, preset_sources
from kmapsim.result import RunResult
from kmapsim.scenario import FieldValue, Scenario

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
        value = parse_value(text.strip())
        # Like the engine's file reader, take 1e6 for an integer field.
        if kinds.get(name) == "int" and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kmapsim",
        description="Simulate CPUs contending on the Linux 2.4 highmem kmap_lock.",
    )
    parser.add_argument("--version", action="version", version=f"kmapsim {_core.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run one scenario and print what it reports")
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"preset (default {DEFAULT_PRESET})")
    p.add_argument("--cpus", type=_count, help="number of CPUs")
    p.add_argument("--strategy", help="flush strategy (see `kmapsim strategies`)")
    p.add_argument(
        "--cycles", type=_count, default=10_000_000, help="simulated cycles (default 10_000_000)"
    )
    p.add_argument("--seed", type=_count, default=0, help="random seed (default 0)")
    p.add_argument("--mode", choices=MODES, default="skip", help="time advance (default skip)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set any scenario field (repeatable; see `kmapsim fields`)",
    )
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("presets", help="list the presets and their values")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("strategies", help="list the flush strategies and which are modelled")
    p.set_defaults(func=_cmd_strategies)

    p = sub.add_parser("fields", help="list the scenario fields with their ranges and defaults")
    p.set_defaults(func=_cmd_fields)
    return parser


# -- commands ------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    scenario = Scenario.preset(args.preset, **_overrides(args))
    result = run(scenario, cycles=args.cycles, seed=args.seed, mode=args.mode)
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print(format_result(result, args.preset))
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
    print(_table(("field", "default", "allowed", "unit", "meaning"), rows, right=(1,)))
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


def format_result(result: RunResult, preset: str = DEFAULT_PRESET) -> str:
    """The human summary printed by ``kmapsim run``."""
    sc = result.scenario
    base = Scenario.preset(preset).to_dict()
    changed = [f"{k}={v!r}" for k, v in sc.to_dict().items() if base.get(k) != v]
    c = result.counters
    out = [
        f"kmapsim {_core.__version__}: preset {preset}"
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
    except ScenarioError as e:
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


def _error(message: str) -> None:
    print(f"kmapsim: error: {message}", file=sys.stderr)
