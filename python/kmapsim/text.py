"""Results and frames as aligned text tables: what ``kmapsim run``, ``kmapsim sweep``,
``kmapsim fields`` and `kmapsim.study.Study.summary` print.

Numbers are right-aligned, text left-aligned and the last column left ragged; bounds and
defaults lose a trailing ``.0`` (`plain_number`). Nothing here runs the engine or reads a file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kmapsim import _core
from kmapsim.presets import DEFAULT_PRESET
from kmapsim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from kmapsim.histogram import Histogram
    from kmapsim.result import RunResult

__all__ = ["format_result", "plain_number", "sweep_summary_text", "text_table"]


def plain_number(x: object) -> object:
    """700.0 -> 700: bounds and defaults read better without a trailing .0."""
    return int(x) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else x


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
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
    changed = [
        f"program={sc.program_text!r}" if k == "program" and sc.program_text else f"{k}={v!r}"
        for k, v in sc.to_dict().items()
        if start.get(k) != v
    ]
    c = result.counters
    out = [
        f"kmapsim {_core.__version__}: {label if label is not None else f'preset {preset}'}"
        + (f" with {', '.join(changed)}" if changed else ""),
        f"{result.cycles:,} cycles ({result.simulated_seconds * 1e3:.3f} ms at"
        f" {plain_number(sc.cpu_mhz)} MHz) on {sc.cpus} CPUs, strategy {sc.strategy},"
        f" seed {result.seed}, mode {result.mode};"
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
    out.append(text_table(("headline", "value", ""), headline, right=(1,)))
    out.append("")

    shares = result.shares().mean(axis=0) * 100.0
    rows = [(str(cat), f"{share:.2f} %") for cat, share in shares.items()]
    out.append(text_table((f"cycles (mean share over {sc.cpus} CPUs)", "share"), rows, right=(1,)))
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
    out.append(text_table(header, dist_rows, right=range(1, 7)))

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


def sweep_summary_text(summary: pd.DataFrame) -> str:
    """`SweepResult.summary`'s throughput table as ``kmapsim sweep`` prints it, with a note on
    stale accesses when there are any."""
    rows = [
        [
            *(str(k) for k in (key if isinstance(key, tuple) else (key,))),
            f"{stats['mean']:,.1f}",
            "-" if math.isnan(stats["std"]) else f"{stats['std']:,.1f}",
            f"{stats['min']:,.1f}",
            f"{stats['max']:,.1f}",
            f"{int(stats['stale_accesses']):,}",
        ]
        for key, stats in summary.iterrows()
    ]
    keys = [str(k) for k in summary.index.names]
    header = [*keys, "mean", "std", "min", "max", "stale accesses"]
    out = [text_table(header, rows, right=range(len(keys), len(header)))]
    if any(int(v) for v in summary["stale_accesses"]):
        out.append(
            "(a stale access is a TLB lookup that reached the wrong page: silent data "
            "corruption; see `kmapsim strategies`)"
        )
    return "\n".join(out)
