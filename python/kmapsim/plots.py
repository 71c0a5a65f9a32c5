"""Plots of a sweep: scaling curves, where the cycles go, and kmap_lock wait distributions.

Needs matplotlib, the optional extra ``pip install 'kmapsim[plot]'``; it is imported only when a
plot is drawn. Every function takes a `SweepResult` or its ``frame`` (a DataFrame of `row_of`
rows, e.g. read back from the Parquet file a study writes) and returns a matplotlib ``Figure``:

>>> from kmapsim import plots
>>> fig = plots.scaling(result)                          # doctest: +SKIP
>>> fig = plots.breakdown(result, at={"cpus": 64})       # doctest: +SKIP
>>> fig = plots.lock_wait(result.frame, kind="hist")     # doctest: +SKIP
>>> plots.save_all(result, "out/")                       # doctest: +SKIP

These are plain functions rather than `SweepResult` methods, so that the sweep itself never
needs matplotlib. Called without ``ax``, a function makes its figure with ``pyplot`` (so it shows
in a notebook or an interactive session, on whatever backend is in use); `save_all` makes its
figures off pyplot, on the Agg canvas, and closes nothing the caller owns, so it works without a
display and leaves the session's backend alone.

Seeds are never plotted one by one: rows that differ only in the seed are summarised (mean and
spread, or summed histograms). Rows that differ in some other scenario field that the plot does
not show are refused with a ValueError naming that field, because averaging over them silently
would mix machines; select them with ``at`` or show them with ``hue``/``by``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from kmapsim._numbers import as_float, as_fraction
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, ScenarioTypeError, bad_name
from kmapsim.histogram import NBUCKETS
from kmapsim.outputs import output_dir, writing
from kmapsim.runner import _flag, _int_arg
from kmapsim.scenario import Scenario
from kmapsim.sweep import SweepResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FLUSH_CATEGORIES",
    "MAX_DPI",
    "MIN_DPI",
    "SPREADS",
    "PlotsUnavailable",
    "breakdown",
    "breakdown_scaling",
    "category_colors",
    "lock_wait",
    "require_matplotlib",
    "save_all",
    "save_study",
    "scaling",
    "stale",
    "strategy_colors",
]

INSTALL_HINT = "pip install 'kmapsim[plot]'"

#: The resolutions `save_all` and `save_study` write at, in dots per inch: below 20 a figure is
#: a few dozen pixels wide; above 1200 one PNG takes hundreds of megabytes of memory to draw.
MIN_DPI, MAX_DPI = 20, 1200

#: The plots `save_all` writes (``NAME.png``), the first three `save_study` writes.
SWEEP_PLOTS = ("scaling", "breakdown", "lock_wait")

#: How `scaling` draws the spread over seeds.
SPREADS = ("band", "errorbar")

#: Labels with units for the columns of a sweep frame that plots use most.
_LABELS = {
    "throughput": "throughput (kmaps per million cycles, all CPUs)",
    "kmaps_per_second": "kmaps per simulated second",
    "mb_per_second": "bandwidth (MB/s, 4 KiB per kmap)",
    "kmaps": "kmaps (count)",
    "kmap_lock_wait_mean": "mean kmap_lock wait (cycles)",
    "kmap_lock_hold_mean": "mean kmap_lock hold (cycles)",
    "stale_accesses": "stale TLB accesses (count)",
}

#: A colour per cycle category, fixed so that every breakdown plot reads the same way: greens
#: for useful work, reds for kmap_lock, blues and purples for the flush and IPIs.
_CATEGORY_COLORS = {
    "work": "#9ccc8a",
    "copy": "#3a8f3a",
    "irqoff_spin": "#f7b267",
    "irqoff_hold": "#f4d35e",
    "kmap_spin": "#d62728",
    "kmap_locked": "#ff9896",
    "kmap_local": "#17becf",
    "flush_scan": "#9467bd",
    "call_lock_spin": "#c5b0d5",
    "ipi_send": "#1f4e9c",
    "ipi_wait": "#6baed6",
    "local_flush": "#8c564b",
    "tlb_miss": "#c49c94",
    "ipi_handler": "#e377c2",
    "sleep": "#525252",
    "context_switch": "#bcbd22",
}
_OTHER_COLOR = "#c7c7c7"

#: Columns that grow linearly with the CPU count when nothing is shared.
_RATES = ("throughput", "kmaps_per_second", "mb_per_second", "kmaps")

#: Marker and line style by hue position, so that equal curves drawn on each other both show.
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_LINESTYLES: list[Any] = ["-", "--", "-.", ":", (0, (6, 2, 1, 2, 1, 2)), (0, (1, 1))]

#: A colour per strategy (tab10), in the order of the strategy field's choices.
_TAB10 = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]

# Set by save_all: figures are then made on the Agg canvas, off pyplot.
_HEADLESS: contextvars.ContextVar[bool] = contextvars.ContextVar("headless", default=False)


class PlotsUnavailable(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> None:
    """Raise `PlotsUnavailable` (an ImportError) naming the install command if matplotlib is
    missing. Cheap to call before a long sweep whose plots are wanted."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise PlotsUnavailable(
            f"kmapsim plots need matplotlib, which is not installed: {INSTALL_HINT}"
        ) from e


def strategy_colors() -> dict[str, str]:
    """The colour of each strategy in every plot."""
    spec = next(s for s in Scenario.fields() if s["name"] == "strategy")
    names = spec["choices"] or []
    return {name: _TAB10[i % len(_TAB10)] for i, name in enumerate(names)}


def category_colors() -> dict[str, str]:
    """The colour of each cycle category (and "other") in every breakdown plot."""
    return {**_CATEGORY_COLORS, "other": _OTHER_COLOR}


# -- the plots ------------------------------------------------------------------------------------


def scaling(
    frame: SweepResult | pd.DataFrame,
    x: str = "cpus",
    y: str = "throughput",
    hue: str | Sequence[str] | None = "strategy",
    ax: Axes | None = None,
    *,
    at: Mapping[str, Any] | None = None,
    spread: Literal["band", "errorbar"] = "band",
    ideal: bool = True,
    logy: bool | None = None,
    title: str | None = None,
) -> Figure:
    """``y`` against ``x``, one line per ``hue`` value: the mean across seeds, with the min-max
    range across seeds as a shaded band with edges (or error bars with ``spread="errorbar"``).

    ``x`` is drawn on a log2 axis when it is ``cpus`` (or any positive, power-of-two-spaced
    values), with a tick at each value. A throughput-like ``y`` (a rate that grows with the CPU
    count when nothing is shared) against a log2 ``x`` is drawn on a log2 axis too (``logy``
    None, the default; True or False forces it): on log2 x and log2 y, linear scaling is a
    straight line of slope 1, and equal vertical distances are equal ratios. ``at`` keeps only
    rows whose fields have the given values (e.g. ``at={"irq_hold_cycles": 3000}``). ``hue``
    may name several columns, or None for one line. With ``ideal``, a wide light-grey line
    (a style no strategy uses) shows linear scaling from the smallest CPU count (for
    throughput-like ``y`` against ``cpus``). Each strategy keeps its colour, marker and line
    style in every plot, so that strategies with identical results (``sync`` and ``targeted``
    on many scenarios) stay visible. ``title`` names what was run (a preset, a regime); the
    title adds the seeds and cycles. Draws on ``ax`` if given, else on a new figure; returns
    the figure. A ``spread`` other than those two, or an ``ideal`` or ``logy`` that is no bool
    (Python's or numpy's; ``logy`` may be None), is a ScenarioError.
    """
    _title(title)
    _choice("spread", spread, SPREADS)
    ideal = _flag("ideal", ideal)
    logy = None if logy is None else _flag("logy", logy)
    df = _select(_frame_of(frame), at)
    hues = _columns("hue", hue)
    _require_columns(df, x=[x], y=[y], hue=hues)
    _check_fixed(df, keep={x, *hues}, what="scaling")
    fig, axes = _figure(ax, (7.5, 4.8))
    nseeds = int(df["seed"].nunique()) if "seed" in df else 1

    groups = _groups(df, hues)
    keys = [key for key, _ in groups]
    for (key, part), color, style in zip(
        groups, _hue_colors(hues, keys), _hue_styles(hues, keys), strict=True
    ):
        stats = part.groupby(x, sort=True)[y].agg(["mean", "min", "max"])
        xs = stats.index.to_numpy()
        label = _label(hues, key) if hues else y
        if spread == "errorbar":
            yerr = np.vstack([stats["mean"] - stats["min"], stats["max"] - stats["mean"]])
            axes.errorbar(
                xs, stats["mean"], yerr=yerr, color=color, ms=4, capsize=3, label=label, **style
            )
        else:
            axes.plot(xs, stats["mean"], color=color, ms=4, label=label, zorder=3, **style)
            if nseeds > 1:
                _band(axes, xs, stats["min"].to_numpy(), stats["max"].to_numpy(), color)
    log_x = _x_axis(axes, df[x])
    if logy is None:
        logy = log_x and y in _RATES and bool((df[y] > 0).all())
    if ideal and x == "cpus" and y in _RATES:
        # Perfect scaling from the smallest CPU count: what a lock-free design would reach.
        xs = np.sort(pd.unique(df[x].to_numpy())).astype(float)
        y0 = float(df.loc[df[x] == xs[0], y].mean())
        axes.plot(
            xs,
            y0 * xs / xs[0],
            color="0.82",
            lw=6,
            ls="-",
            solid_capstyle="round",
            zorder=1,
            label=f"linear scaling from {xs[0]:g} CPU{'s' if xs[0] != 1 else ''}",
        )
    if logy:
        axes.set_yscale("log", base=2)
        _log2_ticks(axes)
    axes.set_xlabel(_axis_label(x) + (" (log2 scale)" if log_x else ""))
    axes.set_ylabel(_axis_label(y) + (", log2 scale" if logy else ""))
    axes.grid(True, alpha=0.3)
    spread_text = ""
    if nseeds > 1:
        spread_text = f"; {'band' if spread == 'band' else 'bars'}: min-max over seeds"
    what = ("mean of " if nseeds > 1 else "") + _runs_text(df) + spread_text
    head = title or f"{_short(y)} against {_short(x)}"
    axes.set_title(f"{head}{_at_text(at)}\n({what})", fontsize=9)
    if hues:
        axes.legend(title=", ".join(hues), fontsize=8, title_fontsize=8)
    return fig


def _band(axes: Axes, xs: Any, lo: Any, hi: Any, color: str) -> None:
    """The min-max band over seeds: shaded, with thin edges so that a narrow band still shows."""
    axes.fill_between(xs, lo, hi, color=color, alpha=0.25, lw=0, zorder=2)
    for edge in (lo, hi):
        axes.plot(xs, edge, color=color, lw=0.6, alpha=0.8, zorder=2)


def _log2_ticks(axes: Axes) -> None:
    """Plain-number labels at the powers of two of a log2 y axis (not 2^k)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axes.yaxis.set_major_locator(LogLocator(base=2))
    axes.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    )
    axes.yaxis.set_minor_locator(NullLocator())


def breakdown(
    frame: SweepResult | pd.DataFrame,
    at: Mapping[str, Any] | None = None,
    by: str | Sequence[str] = "strategy",
    ax: Axes | None = None,
    *,
    min_share: float = 0.01,
    title: str | None = None,
    categories: Sequence[str] | None = None,
) -> Figure:
    """Where the cycles go: one stacked bar per ``by`` value, of the mean (across seeds) share of
    all CPU cycles in each category (the ``share_<category>`` columns), in percent.

    ``at`` selects the rows to show; by default ``{"cpus": <the largest CPU count>}``, where the
    strategies differ most. Categories below ``min_share`` (a fraction) in every bar are merged
    into one grey "other" segment. Each category has the same colour in every plot
    (`category_colors`). ``categories``, if given, are the categories shown instead (the others
    merged), so that several plots side by side show the same ones. ``title`` names what was run
    (a preset, a regime); the title adds the seeds and cycles. A ``min_share`` that is no
    number in [0, 1] is a ScenarioError.
    """
    _title(title)
    min_share = _share(min_share)
    df = _frame_of(frame)
    at = _default_at(df, at)
    df = _select(df, at)
    bys = _columns("by", by)
    _require_columns(df, by=bys)
    _check_fixed(df, keep=set(bys), what="breakdown")
    share_cols = [c for c in df.columns if c.startswith("share_")]
    if not share_cols:
        raise _no_shares("breakdown", df)

    groups = _groups(df, bys)
    labels = [_label(bys, key) for key, _ in groups]
    means = pd.DataFrame(
        [part[share_cols].mean() for _, part in groups], index=range(len(groups))
    ).rename(columns=lambda c: c.removeprefix("share_"))
    if categories is None:
        big = [c for c in means.columns if (means[c] >= min_share).any()]
    else:
        chosen = _categories("categories", categories)
        big = [c for c in means.columns if c in chosen]
    small = [c for c in means.columns if c not in big]
    shown = means[big].copy()
    if small:
        shown["other"] = means[small].sum(axis=1)

    fig, axes = _figure(ax, (max(6.5, 1.0 * len(groups) + 4.5), 4.8))
    colors = category_colors()
    fallback = iter(_TAB10)
    bottom = np.zeros(len(groups))
    positions = np.arange(len(groups))
    handles = []
    for cat in shown.columns:
        values = shown[cat].to_numpy() * 100.0
        color = colors.get(cat) or next(fallback, _OTHER_COLOR)
        label = (
            (
                f"other ({len(small)} categories < {min_share:.0%} each)"
                if categories is None
                else f"other ({len(small)} categories)"
            )
            if cat == "other"
            else cat
        )
        bars = axes.bar(
            positions, values, bottom=bottom, color=color, label=label, width=0.7, lw=0.3,
            edgecolor="white",
        )  # fmt: skip
        handles.append(bars)
        bottom += values
    axes.set_xticks(positions, labels=labels)
    if len(bys) > 1:  # long "sync, irq_locks=4" labels: slanted, ending under their bar
        for tick in axes.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")
    axes.set_ylim(0, 100)
    axes.set_ylabel("share of all CPU cycles (%)")
    axes.set_xlabel(", ".join(bys))
    nseeds = int(df["seed"].nunique()) if "seed" in df else 1
    head = f"{title}: where the cycles go" if title else "Where the cycles go"
    axes.set_title(
        f"{head}{_at_text(at)}\n({'mean of ' if nseeds > 1 else ''}{_runs_text(df)})",
        fontsize=9,
    )
    # Top of the stack first, as the eye reads it.
    axes.legend(
        handles=handles[::-1], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
        title="cycle category", title_fontsize=8,
    )  # fmt: skip
    axes.grid(True, axis="y", alpha=0.3)
    return fig


def lock_wait(
    frame: SweepResult | pd.DataFrame,
    at: Mapping[str, Any] | None = None,
    by: str | Sequence[str] = "strategy",
    ax: Axes | None = None,
    *,
    kind: Literal["cdf", "hist"] = "cdf",
    title: str | None = None,
) -> Figure:
    """The distribution of kmap_lock wait times (cycles from asking for the lock to holding it),
    one line per ``by`` value, with the histograms of all seeds summed.

    Uses the ``kmap_lock_wait_counts`` column: 65 log2 buckets, bucket 0 holding a wait of 0 and
    bucket k the waits in [2**(k-1), 2**k). ``kind="cdf"`` plots the fraction of waits below x at
    each power of two, where the buckets make it exact; ``kind="hist"`` plots the fraction of
    waits in each bucket as a step histogram. Both on a log2 x axis, so a wait of 0 cannot be
    drawn: each legend entry says which fraction of acquisitions did not wait. Groups that never
    took kmap_lock (``local``) are listed in the legend without a line. ``at`` selects the rows,
    by default ``{"cpus": <the largest CPU count>}``. ``title`` names what was run (a preset, a
    regime); the title adds the seeds and cycles.
    """
    _title(title)
    _choice("kind", kind, ("cdf", "hist"))
    df = _frame_of(frame)
    at = _default_at(df, at)
    df = _select(df, at)
    bys = _columns("by", by)
    _require_columns(df, by=bys, frame=["kmap_lock_wait_counts"])
    _check_fixed(df, keep=set(bys), what="lock_wait")

    groups = _groups(df, bys)
    counts = [_summed_counts(part["kmap_lock_wait_counts"]) for _, part in groups]
    nonzero = [int(np.flatnonzero(c).max()) for c in counts if c.sum() > 0]
    top = max(nonzero, default=1) + 1  # one bucket past the last one used
    fig, axes = _figure(ax, (7.5, 4.8))
    keys = [key for key, _ in groups]
    colors = _hue_colors(bys, keys)
    styles = _hue_styles(bys, keys)
    edges = 2.0 ** np.arange(top + 1)  # 1, 2, 4, ...: upper bounds of buckets 0..top
    for key, c, color, style in zip(keys, counts, colors, styles, strict=True):
        total = int(c.sum())
        name = _label(bys, key)
        if total == 0:
            axes.plot([], [], " ", label=f"{name}: no kmap_lock acquisitions")
            continue
        frac = c[: top + 1] / total
        label = f"{name}: {total:,} acquisitions, {frac[0]:.1%} with no wait"
        if kind == "cdf":
            # cumulative[k] = P(wait < 2**k), exact at the bucket bounds.
            axes.plot(edges, np.cumsum(frac), color=color, ms=3, label=label, **style)
        else:
            axes.stairs(frac[1:], edges, color=color, lw=1.5, ls=style["ls"], label=label)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("kmap_lock wait (cycles, log2 scale)")
    if kind == "cdf":
        axes.set_ylabel("fraction of acquisitions waiting < x")
        axes.set_ylim(0, 1.02)
    else:
        axes.set_ylabel("fraction of acquisitions per log2 bucket")
    nseeds = int(df["seed"].nunique()) if "seed" in df else 1
    what = "distribution (CDF)" if kind == "cdf" else "histogram"
    head = f"{title}: kmap_lock wait {what}" if title else f"kmap_lock wait {what}"
    pooled = _runs_text(df) + (", seeds pooled" if nseeds > 1 else "")
    axes.set_title(f"{head}{_at_text(at)}\n({pooled})", fontsize=9)
    axes.grid(True, alpha=0.3)
    # A CDF rises through the middle and stays near 1 on the right: the lower right is empty
    # (a histogram's is not, so it lets matplotlib choose).
    axes.legend(
        title=", ".join(bys), fontsize=8, title_fontsize=8,
        loc="lower right" if kind == "cdf" else "best",
    )  # fmt: skip
    return fig


#: The cycle categories the seed mail is about, stacked first (at the bottom) in
#: `breakdown_scaling`: the flusher's clearing loop and its wait for acks, and the CPUs spinning
#: on kmap_lock meanwhile.
FLUSH_CATEGORIES = ("kmap_spin", "ipi_wait", "flush_scan")


def breakdown_scaling(
    frame: SweepResult | pd.DataFrame,
    x: str = "cpus",
    by: str | Sequence[str] = "strategy",
    *,
    at: Mapping[str, Any] | None = None,
    min_share: float = 0.01,
    first: Sequence[str] = FLUSH_CATEGORIES,
    title: str | None = None,
    about: str | None = None,
) -> Figure:
    """Where the cycles go against ``x``: one panel per ``by`` value, each a stacked bar per
    ``x`` value of the mean (across seeds) share of all CPU cycles in each category, in percent.

    The ``first`` categories (by default kmap_spin, ipi_wait and flush_scan, the cycles the seed
    mail is about) are always shown and stacked at the bottom, so that their height reads from
    0; other categories below ``min_share`` everywhere are merged into a grey "other". ``x``
    values are evenly spaced (CPU counts 1, 2, 4, ... read as a log2 axis). ``title`` names what
    was run, ``about`` (optional) adds a line under the title. Makes its own figure (several
    panels), so it takes no ``ax``. A ``min_share`` that is no number in [0, 1] is a
    ScenarioError.
    """
    _title(title)
    min_share = _share(min_share)
    df = _select(_frame_of(frame), at)
    bys = _columns("by", by)
    _require_columns(df, x=[x], by=bys)
    _check_fixed(df, keep={x, *bys}, what="breakdown_scaling")
    share_cols = [c for c in df.columns if c.startswith("share_")]
    if not share_cols:
        raise _no_shares("breakdown_scaling", df)
    means = (
        df.groupby([*bys, x], sort=False)[share_cols]
        .mean()
        .rename(columns=lambda c: c.removeprefix("share_"))
    )
    cats = list(means.columns)
    lead = [c for c in _categories("first", first) if c in cats]
    big = [c for c in cats if c not in lead and (means[c] >= min_share).any()]
    small = [c for c in cats if c not in lead and c not in big]
    groups = _groups(df, bys)
    xs = sorted(pd.unique(df[x]).tolist())
    ncols = min(3, len(groups))
    nrows = -(-len(groups) // ncols)
    fig, grid = _figure_grid(nrows, ncols, (3.6 * ncols + 2.2, 3.0 * nrows + 1.0), sharey=True)
    colors = category_colors()
    fallback = iter(_TAB10)
    cat_colors = {c: colors.get(c) or next(fallback, _OTHER_COLOR) for c in [*lead, *big]}
    positions = np.arange(len(xs))
    handles: dict[str, Any] = {}
    for i, (key, _) in enumerate(groups):
        axes = grid[i // ncols][i % ncols]
        part = means.loc[key if len(bys) > 1 else key[0]] if bys else means
        part = part.reindex(xs)
        bottom = np.zeros(len(xs))
        for cat in [*lead, *big, *(["other"] if small else [])]:
            values = (part[small].sum(axis=1) if cat == "other" else part[cat]).to_numpy()
            values = np.nan_to_num(values.astype(float)) * 100.0
            color = _OTHER_COLOR if cat == "other" else cat_colors[cat]
            bars = axes.bar(
                positions, values, bottom=bottom, color=color, width=0.75, lw=0.3,
                edgecolor="white", hatch="//" if cat in lead else None,
            )  # fmt: skip
            handles.setdefault(cat, bars)
            bottom += values
        axes.set_xticks(positions, labels=[f"{v:g}" for v in xs])
        axes.set_ylim(0, 100)
        axes.set_title(_label(bys, key) if bys else "", fontsize=9)
        axes.grid(True, axis="y", alpha=0.3)
        if i % ncols == 0:
            axes.set_ylabel("share of all CPU cycles (%)")
        if i // ncols == nrows - 1 or i + ncols >= len(groups):
            axes.set_xlabel(_short(x))
    for j in range(len(groups), nrows * ncols):
        grid[j // ncols][j % ncols].set_visible(False)
    labels = {
        c: f"other ({len(small)} categories < {min_share:.0%} each)" if c == "other" else c
        for c in handles
    }
    order = list(handles)[::-1]  # top of the stack first, as the eye reads it
    fig.legend(
        [handles[c] for c in order], [labels[c] for c in order], loc="outside right upper",
        fontsize=8, title="cycle category\n(hatched: the flush\nand the lock spin)",
        title_fontsize=8,
    )  # fmt: skip
    nseeds = int(df["seed"].nunique()) if "seed" in df else 1
    head = f"{title}: where the cycles go" if title else "Where the cycles go"
    fig.suptitle(
        f"{head} against {_short(x)}, one panel per {', '.join(bys) or 'run'}\n"
        f"({'mean of ' if nseeds > 1 else ''}{_runs_text(df)}{_at_text(at).replace(' at', ';')})"
        + (f"\n{about}" if about else ""),
        fontsize=10,
    )
    return fig


def stale(
    frame: SweepResult | pd.DataFrame,
    x: str = "ipi_latency",
    hue: str | Sequence[str] = "strategy",
    panel: str | None = "cpus",
    *,
    at: Mapping[str, Any] | None = None,
    marks: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Stale TLB accesses (summed over the seeds) against ``x``, one line per ``hue`` value, one
    panel per ``panel`` value. The y axis is linear up to 1 and logarithmic above (symlog), so
    that 0 is drawn; a line that stays at 0 says so in the legend. ``marks`` draws a dashed
    vertical line at each named ``x`` value (e.g. the preset's IPI latency). Makes its own
    figure, so it takes no ``ax``.
    """
    _title(title)
    marks = _marks(marks)
    df = _select(_frame_of(frame), at)
    hues = _columns("hue", hue)
    panels = _columns("panel", panel)
    _require_columns(df, x=[x], hue=hues, panel=panels, frame=["stale_accesses"])
    _check_fixed(df, keep={x, *hues, *panels}, what="stale")
    pgroups = _groups(df, panels)
    fig, grid = _figure_grid(1, len(pgroups), (4.6 * len(pgroups) + 2.4, 4.4), sharey=True)
    top = max(1.0, float(df.groupby([x, *hues, *panels])["stale_accesses"].sum().max()))
    for i, (pkey, pdf) in enumerate(pgroups):
        axes = grid[0][i]
        groups = _groups(pdf, hues)
        keys = [key for key, _ in groups]
        for (key, part), color, style in zip(
            groups, _hue_colors(hues, keys), _hue_styles(hues, keys), strict=True
        ):
            sums = part.groupby(x, sort=True)["stale_accesses"].sum()
            name = _label(hues, key)
            label = name if sums.any() else f"{name}: 0 at every {_short(x)}"
            axes.plot(sums.index, sums.to_numpy(), color=color, ms=5, label=label, **style)
        axes.set_xscale("log")
        xs = np.sort(pd.unique(pdf[x].to_numpy()))
        axes.set_xticks(xs, labels=[f"{v:,g}" for v in xs])
        axes.xaxis.set_minor_locator(_null_locator())
        axes.set_yscale("symlog", linthresh=1.0)
        axes.set_ylim(-0.3, top * 2.5)
        for name, value in marks.items():
            axes.axvline(value, color="0.4", lw=1, ls=(0, (4, 3)), zorder=0)
            axes.annotate(
                name, (value, top * 1.6), fontsize=7, color="0.3", rotation=90,
                ha="right", va="top", xytext=(-2, 0), textcoords="offset points",
            )  # fmt: skip
        axes.set_xlabel(_axis_label(x) + ", log scale")
        if i == 0:
            axes.set_ylabel("stale TLB accesses, summed over seeds\n(symlog: 0, then log)")
        axes.set_title(_label(panels, pkey) + (" CPUs" if panels == ["cpus"] else ""), fontsize=9)
        axes.grid(True, alpha=0.3)
        axes.legend(title=", ".join(hues), fontsize=7, title_fontsize=8, loc="upper left")
    head = f"{title}: stale TLB accesses" if title else "Stale TLB accesses"
    fig.suptitle(
        f"{head} against {_short(x)}, by {', '.join(hues)}{_at_text(at)}\n"
        f"({_runs_text(df)}; each is a read through a TLB entry for a remapped pkmap slot)",
        fontsize=10,
    )
    return fig


def save_study(
    frame: pd.DataFrame,
    outdir: str | os.PathLike[str],
    *,
    regimes: Mapping[str, str],
    latency: pd.DataFrame | None = None,
    marks: Mapping[str, float] | None = None,
    title: str = "kmapsim study",
    baseline: str = "sync",
    dpi: int = 150,
) -> list[Path]:
    """The plots of `kmapsim.study.run_study`, written to ``outdir`` on the Agg canvas; returns
    their paths.

    ``frame`` holds the scaling runs of each regime, told apart by its ``regime`` column;
    ``regimes`` maps each regime's name to the text that describes it in titles. Writes
    ``scaling.png`` (per regime: throughput against CPUs on log2 x and log2 y, and the change
    from ``baseline`` with its min-max band over seeds), ``breakdown.png`` (where the cycles go
    at the largest CPU count, by regime and strategy), ``lock_wait.png`` (the kmap_lock wait
    CDF there, per regime), ``cycles_<regime>.png`` (`breakdown_scaling` of each regime) and,
    given the ``latency`` frame (a sweep over ``ipi_latency``), ``stale.png`` (`stale`).
    ``dpi`` is an integer in [`MIN_DPI`, `MAX_DPI`] (a ScenarioError otherwise). An ``outdir``
    that cannot be written raises ScenarioFileError naming it (`kmapsim.outputs.output_dir`).
    """
    _title(title)
    dpi = _int_arg("dpi", dpi, MIN_DPI, MAX_DPI)
    require_matplotlib()
    _require_columns(frame, frame=["regime", "cpus", "strategy"])
    names = [n for n in regimes if (frame["regime"] == n).any()]
    parts = {n: frame[frame["regime"] == n] for n in names}
    runs = _runs_text(frame)
    files = [*SWEEP_PLOTS, *(f"cycles_{n}" for n in names), "stale"]
    out = _made_dir(outdir, [f"{name}.png" for name in files])
    paths: list[Path] = []

    def save(name: str, fig: Figure) -> None:
        path = out / f"{name}.png"
        with writing("outdir", path):
            fig.savefig(path, dpi=dpi)
        paths.append(path)

    with _headless():
        save("scaling", _scaling_panels(parts, regimes, title, runs, baseline))
        largest = _plain(frame["cpus"].max())
        save("breakdown", _breakdown_panels(parts, largest, title, runs))
        fig, grid = _figure_grid(1, len(names), (5.6 * len(names), 6.4), sharey=True)
        for axes, name in zip(grid[0], names, strict=True):
            lock_wait(parts[name], at={"cpus": largest}, ax=axes, title=name)
            # Each panel's legend (its own acquisition counts) below it, off the curves.
            legend = axes.get_legend()
            if legend is not None:
                legend.set_loc("upper center")
                legend.set_bbox_to_anchor((0.5, -0.16))
        fig.suptitle(
            f"{title}: kmap_lock wait distribution at {largest} CPUs, one panel per regime"
            f" ({runs}, seeds pooled)",
            fontsize=10,
        )
        save("lock_wait", fig)
        for name in names:
            about = _wrap(f"{name}: {regimes[name]}", 105)
            fig = breakdown_scaling(parts[name], title=f"{title}, regime {name}", about=about)
            save(f"cycles_{name}", fig)
        if latency is not None and len(latency):
            save("stale", stale(latency, marks=marks, title=f"{title}, regime safety"))
    return paths


def _scaling_panels(
    parts: Mapping[str, pd.DataFrame],
    regimes: Mapping[str, str],
    title: str,
    runs: str,
    baseline: str,
) -> Figure:
    """Throughput against CPUs (log2-log2) above, the change from ``baseline`` below; a column
    per regime."""
    names = list(parts)
    with_gain = all((p["strategy"] == baseline).any() for p in parts.values())
    nrows = 2 if with_gain else 1
    fig, grid = _figure_grid(
        nrows, len(names), (4.7 * len(names) + 1.8, 4.3 * nrows + 0.9), sharey="row"
    )
    for j, name in enumerate(names):
        axes = grid[0][j]
        scaling(parts[name], ax=axes, title=f"{name}")
        axes.set_title(f"{name}\n{_wrap(regimes[name], 60)}", fontsize=8)
        if j:
            axes.set_ylabel("")
        if with_gain:
            _gain_panel(grid[1][j], parts[name], baseline)
            if j:
                grid[1][j].set_ylabel("")
    handles, labels = grid[0][0].get_legend_handles_labels()
    for row in grid:
        for axes in row:
            legend = axes.get_legend()
            if legend is not None:
                legend.remove()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, title="strategy")
    lower = (
        f"\nbottom: throughput change from {baseline} (%), each seed against the same seed of"
        f" {baseline}: mean, and min-max band over seeds (linear y)"
        if with_gain
        else ""
    )
    fig.suptitle(
        f"{title}: throughput against CPUs, one column per regime ({runs})\n"
        "top: mean over seeds on log2 x and log2 y, so linear scaling (wide grey line) is a"
        " straight line of slope 1; band: min-max over seeds (thinner than the line where the"
        f" seeds agree){lower}",
        fontsize=9,
    )
    return fig


def _breakdown_panels(
    parts: Mapping[str, pd.DataFrame], cpus: Any, title: str, runs: str, min_share: float = 0.01
) -> Figure:
    """`breakdown` at ``cpus``, one panel per regime, the same categories in each."""
    names = list(parts)
    shares = pd.concat([p[p["cpus"] == cpus] for p in parts.values()])
    cols = [c for c in shares.columns if c.startswith("share_")]
    means = shares.groupby(["regime", "strategy"])[cols].mean()
    shown = [c.removeprefix("share_") for c in cols if (means[c] >= min_share).any()]
    fig, grid = _figure_grid(1, len(names), (3.9 * len(names) + 2.4, 4.9), sharey=True)
    for j, (axes, name) in enumerate(zip(grid[0], names, strict=True)):
        breakdown(parts[name], at={"cpus": cpus}, ax=axes, categories=shown)
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("strategy")
        for tick in axes.get_xticklabels():
            tick.set_rotation(30)
            tick.set_horizontalalignment("right")
        if j:
            axes.set_ylabel("")
    handles, labels = grid[0][0].get_legend_handles_labels()
    for axes in grid[0]:
        legend = axes.get_legend()
        if legend is not None:
            legend.remove()
    fig.legend(
        handles[::-1], labels[::-1], loc="outside right center", fontsize=8,
        title="cycle category", title_fontsize=8,
    )  # fmt: skip
    fig.suptitle(
        f"{title}: where the cycles go at {cpus} CPUs, one panel per regime\n"
        f"(share of all CPU cycles, mean of {runs})",
        fontsize=10,
    )
    return fig


def _gain_panel(axes: Axes, df: pd.DataFrame, baseline: str) -> None:
    """Each strategy's throughput as a change from ``baseline`` (same CPUs, same seed), in %."""
    base = df[df["strategy"] == baseline].set_index(["cpus", "seed"])["throughput"]
    # A run of the baseline that completed no kmap gives no change to measure (x/0): such
    # points are left out and the panel says so, rather than drawn as silent gaps.
    unmeasured = int((~(base > 0)).sum())
    base = base.where(base > 0)
    others = [s for s in pd.unique(df["strategy"]) if s != baseline]
    keys = [(s,) for s in others]
    for (name,), color, style in zip(
        keys, _hue_colors(["strategy"], keys), _hue_styles(["strategy"], keys), strict=True
    ):
        part = df[df["strategy"] == name].set_index(["cpus", "seed"])["throughput"]
        change = (part / base.reindex(part.index) - 1.0) * 100.0
        stats = change.groupby(level="cpus").agg(["mean", "min", "max"]).sort_index()
        xs = stats.index.to_numpy()
        axes.plot(xs, stats["mean"], color=color, ms=4, label=name, zorder=3, **style)
        _band(axes, xs, stats["min"].to_numpy(), stats["max"].to_numpy(), color)
    axes.axhline(0.0, color="0.3", lw=1, zorder=1)
    if unmeasured:
        note = f"{unmeasured} {baseline} run(s) completed no kmap: no change shown there"
        axes.text(0.01, 0.01, note, transform=axes.transAxes, fontsize=7, va="bottom")
    log_x = _x_axis(axes, df["cpus"])
    axes.set_xlabel("CPUs" + (" (log2 scale)" if log_x else ""))
    axes.set_ylabel(f"throughput change from {baseline} (%)")
    axes.grid(True, alpha=0.3)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def save_all(
    result: SweepResult | pd.DataFrame,
    outdir: str | os.PathLike[str],
    *,
    dpi: int = 150,
) -> list[Path]:
    """Write ``scaling.png``, ``breakdown.png`` and ``lock_wait.png`` to ``outdir`` (created if
    needed) and return their paths.

    The axes are chosen from what the sweep varies: x is ``cpus`` if it varies (else the first
    numeric field that does), lines and bars are the other varying fields (``strategy`` if none
    vary), and the breakdown and lock-wait plots are drawn at the largest x. Figures are drawn on
    the Agg canvas, without pyplot, so no display is needed and an interactive backend in use is
    left alone. ``dpi`` is an integer in [`MIN_DPI`, `MAX_DPI`] (a ScenarioError otherwise).
    An ``outdir`` that cannot be written (a file, in a missing or read-only directory) raises
    ScenarioFileError naming it (`kmapsim.outputs.output_dir`), before anything is drawn.
    """
    dpi = _int_arg("dpi", dpi, MIN_DPI, MAX_DPI)
    require_matplotlib()
    df = _frame_of(result, "result")
    order = list(result.grid) if isinstance(result, SweepResult) else []
    varying = _varying(df, order)
    numeric = [v for v in varying if pd.api.types.is_numeric_dtype(df[v])]
    x = "cpus" if "cpus" in varying else (numeric[0] if numeric else "cpus")
    hue: list[str] = [v for v in varying if v != x] or ["strategy"]
    at = {x: _plain(df[x].max())} if x in df and df[x].nunique() > 1 else None

    out = _made_dir(outdir, [f"{name}.png" for name in SWEEP_PLOTS])
    paths = []
    with _headless():
        figures = {
            "scaling": scaling(df, x=x, hue=hue),
            "breakdown": breakdown(df, at=at, by=hue),
            "lock_wait": lock_wait(df, at=at, by=hue),
        }
        for name, fig in figures.items():
            path = out / f"{name}.png"
            with writing("outdir", path):
                fig.savefig(path, dpi=dpi)
            paths.append(path)
    return paths


def _made_dir(outdir: object, files: Sequence[str]) -> Path:
    """``outdir`` checked as the command line checks ``--plots`` (a writable directory, or a
    new one in an existing one; none of ``files`` a directory), and made."""
    out = output_dir("outdir", outdir, files)
    with writing("outdir", out):
        out.mkdir(exist_ok=True)
    return out


# -- helpers --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _headless() -> Iterator[None]:
    token = _HEADLESS.set(True)
    try:
        yield
    finally:
        _HEADLESS.reset(token)


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and axes to draw on: ``ax``'s, or new ones (pyplot's unless headless)."""
    require_matplotlib()
    if ax is not None:
        from matplotlib.figure import Figure, SubFigure

        owner = ax.figure
        # An axes in a subfigure: the figure that holds it all is the one to show or save.
        root = owner.figure if isinstance(owner, SubFigure) else owner
        assert isinstance(root, Figure)
        return root, ax
    if _HEADLESS.get():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(fig)
        return fig, fig.add_subplot()
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=size, layout="constrained")
    return fig, axes


def _figure_grid(
    nrows: int, ncols: int, size: tuple[float, float], sharey: bool | Literal["row"] = False
) -> tuple[Figure, list[list[Axes]]]:
    """A new figure of nrows x ncols axes (pyplot's unless headless), as rows of axes."""
    require_matplotlib()
    if _HEADLESS.get():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(fig)
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size, layout="constrained")
    grid = fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)
    return fig, [list(row) for row in grid]


def _frame_of(obj: SweepResult | pd.DataFrame, name: str = "frame") -> pd.DataFrame:
    """The frame of argument ``name``: a SweepResult's, or a DataFrame itself."""
    if isinstance(obj, SweepResult):
        return obj.frame
    if isinstance(obj, pd.DataFrame):
        return obj
    raise ScenarioTypeError.got(name, obj, "a SweepResult or its DataFrame")


def _no_shares(what: str, df: pd.DataFrame) -> ScenarioError:
    return ScenarioError.of(
        "frame",
        f"{what}: the frame has no share_<category> columns; columns: {_names(df.columns)}",
        "a frame of kmapsim.sweep (its share_<category> columns, see row_of)",
    )


def _choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else the ScenarioError naming them: an unknown
    value must not silently draw as the default."""
    if not isinstance(value, str) or value not in choices:
        allowed = " or ".join(quote(c) for c in choices)
        raise bad_name(
            name, value, f"got {quote(value, 60)}{did_you_mean(value, choices)}", allowed
        )
    return value


def _share(value: object) -> float:
    """``min_share`` as a float in [0, 1] (a fraction of all cycles; a bool is none), else the
    ScenarioError naming it."""
    f = as_fraction(value)
    if f is None:
        allowed = "a number in [0, 1] (a fraction of cycles)"
        if as_float(value) is None or isinstance(value, bool):  # no number at all
            raise ScenarioTypeError.of("min_share", f"got {quote(value, 60)}", allowed)
        raise ScenarioError.of("min_share", f"got {quote(value, 60)}", allowed)
    return f


def _categories(name: str, spec: str | Sequence[str] | None) -> list[str]:
    """Argument ``name`` (``categories``, ``first``): a list of cycle categories
    (`kmapsim.CATEGORIES`); an unknown one is a ScenarioError listing them, not silently
    left out of the plot."""
    from kmapsim import _core

    allowed = "a list of cycle categories (kmapsim.CATEGORIES)"
    if spec is None:  # None means "no list" only where the argument is optional
        raise ScenarioTypeError.got(name, spec, allowed)
    names = _columns(name, spec, allowed)
    for i, item in enumerate(names):
        if item not in _core.CATEGORIES:
            raise ScenarioError.of(
                name,
                f"{name}[{i}] = {quote(item)} is no cycle category"
                + did_you_mean(item, _core.CATEGORIES),
                "a list of categories among " + ", ".join(_core.CATEGORIES),
            )
    return names


def _columns(
    name: str,
    spec: str | Sequence[str] | None,
    allowed: str = "None, a column name, or a list of column names",
) -> list[str]:
    """Argument ``name`` (``hue``, ``by``, ``panel``): None, a column name or a list of them;
    anything else, bytes included (which would iterate as numbers), a ScenarioTypeError."""
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, (bytes, Mapping)) or not isinstance(spec, Iterable):
        raise ScenarioTypeError.got(name, spec, allowed)
    names = list(spec)
    for i, item in enumerate(names):
        if not isinstance(item, str):
            raise ScenarioTypeError.got(f"{name}[{i}]", item, allowed)
    return names


def _title(title: object) -> None:
    """A title is text, or None: a number or a list would be drawn as its repr."""
    if title is not None and not isinstance(title, str):
        raise ScenarioTypeError.got("title", title, "a string, or None")


def _marks(marks: object) -> Mapping[str, float]:
    """``marks`` as a mapping of labels to x values (None: none)."""
    allowed = "None, or a mapping of labels (strings) to x values (numbers)"
    if marks is None:
        return {}
    if not isinstance(marks, Mapping):
        raise ScenarioTypeError.got("marks", marks, allowed)
    for label, value in marks.items():
        if not isinstance(label, str) or as_float(value) is None:
            raise ScenarioTypeError.got("marks", {label: value}, allowed)
    return marks


def _nearest(name: object, df: pd.DataFrame) -> str:
    """`` (did you mean 'x'?)`` for the frame's column nearest to ``name``, or ``""``."""
    return did_you_mean(name, [c for c in df.columns if isinstance(c, str)])


def _require_columns(df: pd.DataFrame, **by_argument: Sequence[str]) -> None:
    """Every column named, by the argument that names it (``frame`` for the columns a plot
    needs of any frame): the first argument with a missing column is the error's field."""
    for argument, names in by_argument.items():
        missing = [n for n in names if n not in df.columns]
        if missing:
            shown = ", ".join(quote(n) + _nearest(n, df) for n in missing[:5])
            raise ScenarioError.of(
                argument,
                f"no column {shown} in the frame",
                "columns of the frame: " + _names(df.columns),
            )
    if df.empty:
        raise ScenarioError.of("frame", "the frame has no rows", "a frame of at least one run")


def _select(df: pd.DataFrame, at: Mapping[str, Any] | None) -> pd.DataFrame:
    """The rows where every field in ``at`` has its value."""
    allowed = "None, or a mapping of frame columns to values; columns: " + _names(df.columns)
    if at is not None and not isinstance(at, Mapping):
        raise ScenarioTypeError.of("at", f"got {type(at).__name__} {quote(at)}", allowed)
    if not at:
        return df
    mask = pd.Series(True, index=df.index)
    for name, value in at.items():
        if not isinstance(name, str) or name not in df.columns:
            raise bad_name(
                "at",
                name,
                f"at={quote(at)}: no column {quote(name)}{_nearest(name, df)} in the frame",
                allowed,
            )
        mask &= df[name] == value
    if not mask.any():
        options = {n: sorted(df[n].unique().tolist()) for n in at if n in df.columns}
        raise ScenarioError.of(
            "at",
            f"at={quote(at)} matches no row; the frame has {quote(options, 400)}",
            "values the frame has",
        )
    return df[mask]


def _names(columns: Iterable[object], limit: int = 500) -> str:
    """Column names for a message, cut short after ``limit`` characters."""
    text = ", ".join(map(str, columns))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _default_at(df: pd.DataFrame, at: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if at is not None:
        return at
    if "cpus" in df.columns and df["cpus"].nunique() > 1:
        return {"cpus": _plain(df["cpus"].max())}
    return None


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for messages and titles)."""
    return value.item() if isinstance(value, np.generic) else value


def _varying(df: pd.DataFrame, first: Sequence[str] = ()) -> list[str]:
    """Scenario fields that take more than one value in ``df``: ``first`` (in its order), then
    the others in field-table order."""
    fields = [s["name"] for s in Scenario.fields()]
    names = [n for n in first if n in fields] + [n for n in fields if n not in first]
    return [n for n in names if n in df.columns and df[n].nunique(dropna=False) > 1]


def _check_fixed(df: pd.DataFrame, keep: set[str], what: str) -> None:
    """Refuse rows that differ in a field the plot neither shows nor has fixed by what it shows.

    A field that takes one value for each combination of the ``keep`` columns (a study's
    ``last_pkmap`` that grows with ``cpus``, a regime's fields when ``regime`` is shown) is
    never averaged over, so it is allowed."""
    keys = [k for k in keep if k in df.columns]
    extra = [v for v in _varying(df) if v not in keep]
    if keys and extra:
        per_group = df.groupby(keys, sort=False, dropna=False)[extra].nunique(dropna=False)
        extra = [v for v in extra if int(per_group[v].max()) > 1]
    if extra:
        values = {v: sorted(df[v].unique().tolist()) for v in extra}
        raise ScenarioError.of(
            "at",
            f"{what}: the rows also differ in {quote(values, 300)}; averaging over that would "
            "mix machines",
            "at={...} picking one value of each, or those fields shown with hue/by",
        )


def _groups(df: pd.DataFrame, keys: list[str]) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    """(key values, rows) per group, in order of first appearance (the grid's order)."""
    if not keys:
        return [((), df)]
    out = []
    for key, part in df.groupby(keys, sort=False):
        out.append((key if isinstance(key, tuple) else (key,), part))
    return out


def _label(keys: list[str], values: tuple[Any, ...]) -> str:
    if len(keys) == 1:
        return str(values[0])
    return ", ".join(
        str(v) if k == "strategy" else f"{k}={v}" for k, v in zip(keys, values, strict=True)
    )


def _hue_colors(keys: list[str], values: list[tuple[Any, ...]]) -> list[str]:
    """Strategy colours when the hue is the strategy; else tab10 in order of appearance."""
    if keys == ["strategy"]:
        fixed = strategy_colors()
        return [fixed.get(str(v[0]), _TAB10[i % len(_TAB10)]) for i, v in enumerate(values)]
    return [_TAB10[i % len(_TAB10)] for i in range(len(values))]


def _hue_styles(keys: list[str], values: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Marker and line style per line: by the strategy's position when the hue is the strategy,
    else by order of appearance."""
    if keys == ["strategy"]:
        order = list(strategy_colors())
        idx = [order.index(str(v[0])) if str(v[0]) in order else i for i, v in enumerate(values)]
    else:
        idx = list(range(len(values)))
    return [
        {"marker": _MARKERS[i % len(_MARKERS)], "ls": _LINESTYLES[i % len(_LINESTYLES)]}
        for i in idx
    ]


def _summed_counts(column: pd.Series) -> npt.NDArray[np.int64]:
    """The bucket counts of a ``kmap_lock_wait_counts`` column, summed over its rows. Cells may
    be lists (a sweep), arrays (Parquet) or JSON text (CSV)."""
    total = np.zeros(NBUCKETS, dtype=np.int64)
    for cell in column:
        try:
            arr = np.asarray(json.loads(cell) if isinstance(cell, str) else cell, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):  # not JSON, not integers
            arr = np.zeros(0, dtype=np.int64)
        if arr.shape != (NBUCKETS,):
            raise ScenarioError.of(
                "frame",
                f"column kmap_lock_wait_counts: a row holds {quote(cell, 60)}",
                f"{NBUCKETS} bucket counts per row, as row_of gives",
            )
        total += arr
    return total


def _x_axis(axes: Axes, values: pd.Series) -> bool:
    """A log2 axis with a tick per value for CPU counts and other power-of-two-spaced values;
    returns whether the axis is log2."""
    xs = np.sort(pd.unique(values.to_numpy()))
    if not pd.api.types.is_numeric_dtype(values):
        return False
    positive = bool((xs > 0).all())
    log2 = values.name == "cpus" or (
        positive and len(xs) >= 3 and bool(np.allclose(np.log2(xs), np.round(np.log2(xs))))
    )
    if log2 and positive:
        axes.set_xscale("log", base=2)
        axes.set_xticks(xs, labels=[f"{x:g}" for x in xs])
        axes.xaxis.set_minor_locator(_null_locator())
        return True
    return False


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _runs_text(df: pd.DataFrame) -> str:
    """``3 seeds x 20,000,000 cycles`` (the cycles when the frame has them, each value once)."""
    nseeds = int(df["seed"].nunique()) if "seed" in df else 1
    text = _seeds(nseeds)
    if "cycles" in df.columns:
        values = sorted(int(c) for c in pd.unique(df["cycles"]))
        text += " x " + " or ".join(f"{c:,}" for c in values) + " cycles"
    return text


def _seeds(n: int) -> str:
    return f"{n} seed{'' if n == 1 else 's'}"


def _short(name: str) -> str:
    return "CPUs" if name == "cpus" else name


def _axis_label(name: str) -> str:
    if name in _LABELS:
        return _LABELS[name]
    if name.startswith("share_"):
        return f"share of all CPU cycles in {name.removeprefix('share_')} (fraction)"
    spec = next((s for s in Scenario.fields() if s["name"] == name), None)
    if spec is not None:
        unit = spec["unit"]
        return f"{'CPUs' if name == 'cpus' else name}" + (
            f" ({unit})" if unit and name != "cpus" else ""
        )
    return name


def _at_text(at: Mapping[str, Any] | None) -> str:
    if not at:
        return ""
    return " at " + ", ".join(f"{v} CPUs" if k == "cpus" else f"{k}={v}" for k, v in at.items())
