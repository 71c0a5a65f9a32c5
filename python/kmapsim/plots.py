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

from kmapsim._quote import quote
from kmapsim.errors import ScenarioError
from kmapsim.histogram import NBUCKETS
from kmapsim.scenario import Scenario
from kmapsim.sweep import SweepResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PlotsUnavailable",
    "breakdown",
    "category_colors",
    "lock_wait",
    "require_matplotlib",
    "save_all",
    "scaling",
    "strategy_colors",
]

INSTALL_HINT = "pip install 'kmapsim[plot]'"

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
) -> Figure:
    """``y`` against ``x``, one line per ``hue`` value: the mean across seeds, with the min-max
    range across seeds as a shaded band (or error bars with ``spread="errorbar"``).

    ``x`` is drawn on a log2 axis when it is ``cpus`` (or any positive, power-of-two-spaced
    values), with a tick at each value. ``at`` keeps only rows whose fields have the given values
    (e.g. ``at={"irq_hold_cycles": 3000}``). ``hue`` may name several columns, or None for one
    line. With ``ideal``, a dotted grey line shows linear scaling from the smallest CPU count
    (for throughput-like ``y`` against ``cpus``). Each strategy keeps its colour, marker and line
    style in every plot, so that strategies with identical results (``sync`` and ``targeted``
    on many scenarios) stay visible. Draws on ``ax`` if given, else on a new figure; returns the
    figure.
    """
    df = _select(_frame_of(frame), at)
    hues = _columns(hue)
    _require_columns(df, [x, y, *hues])
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
            axes.plot(xs, stats["mean"], color=color, ms=4, label=label, **style)
            if nseeds > 1:
                axes.fill_between(xs, stats["min"], stats["max"], color=color, alpha=0.2, lw=0)
    if ideal and x == "cpus" and y in _RATES:
        # Perfect scaling from the smallest CPU count: what a lock-free design would reach.
        xs = np.sort(pd.unique(df[x].to_numpy())).astype(float)
        y0 = float(df.loc[df[x] == xs[0], y].mean())
        axes.plot(
            xs,
            y0 * xs / xs[0],
            color="0.5",
            lw=1,
            ls=":",
            label=f"linear scaling from {xs[0]:g} CPU{'s' if xs[0] != 1 else ''}",
        )

    _x_axis(axes, df[x])
    axes.set_xlabel(_axis_label(x))
    axes.set_ylabel(_axis_label(y))
    axes.grid(True, alpha=0.3)
    what = (
        ("mean of " if nseeds > 1 else "")
        + _seeds(nseeds)
        + (f", {'band' if spread == 'band' else 'bars'}: min-max" if nseeds > 1 else "")
    )
    axes.set_title(f"{_short(y)} against {_short(x)} ({what}){_at_text(at)}", fontsize=10)
    if hues:
        axes.legend(title=", ".join(hues), fontsize=8, title_fontsize=8)
    return fig


def breakdown(
    frame: SweepResult | pd.DataFrame,
    at: Mapping[str, Any] | None = None,
    by: str | Sequence[str] = "strategy",
    ax: Axes | None = None,
    *,
    min_share: float = 0.01,
) -> Figure:
    """Where the cycles go: one stacked bar per ``by`` value, of the mean (across seeds) share of
    all CPU cycles in each category (the ``share_<category>`` columns), in percent.

    ``at`` selects the rows to show; by default ``{"cpus": <the largest CPU count>}``, where the
    strategies differ most. Categories below ``min_share`` (a fraction) in every bar are merged
    into one grey "other" segment. Each category has the same colour in every plot
    (`category_colors`).
    """
    df = _frame_of(frame)
    at = _default_at(df, at)
    df = _select(df, at)
    bys = _columns(by)
    _require_columns(df, bys)
    _check_fixed(df, keep=set(bys), what="breakdown")
    share_cols = [c for c in df.columns if c.startswith("share_")]
    if not share_cols:
        raise ValueError("breakdown: the frame has no share_<category> columns (see row_of)")

    groups = _groups(df, bys)
    labels = [_label(bys, key) for key, _ in groups]
    means = pd.DataFrame(
        [part[share_cols].mean() for _, part in groups], index=range(len(groups))
    ).rename(columns=lambda c: c.removeprefix("share_"))
    big = [c for c in means.columns if (means[c] >= min_share).any()]
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
        label = f"other ({len(small)} categories < {min_share:.0%} each)" if cat == "other" else cat
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
    axes.set_title(
        f"Where the cycles go{_at_text(at)} ({'mean of ' if nseeds > 1 else ''}{_seeds(nseeds)})",
        fontsize=10,
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
) -> Figure:
    """The distribution of kmap_lock wait times (cycles from asking for the lock to holding it),
    one line per ``by`` value, with the histograms of all seeds summed.

    Uses the ``kmap_lock_wait_counts`` column: 65 log2 buckets, bucket 0 holding a wait of 0 and
    bucket k the waits in [2**(k-1), 2**k). ``kind="cdf"`` plots the fraction of waits below x at
    each power of two, where the buckets make it exact; ``kind="hist"`` plots the fraction of
    waits in each bucket as a step histogram. Both on a log2 x axis, so a wait of 0 cannot be
    drawn: each legend entry says which fraction of acquisitions did not wait. Groups that never
    took kmap_lock (``local``) are listed in the legend without a line. ``at`` selects the rows,
    by default ``{"cpus": <the largest CPU count>}``.
    """
    if kind not in ("cdf", "hist"):
        raise ScenarioError.of("kind", f"lock_wait: got {quote(kind)}", "'cdf' or 'hist'")
    df = _frame_of(frame)
    at = _default_at(df, at)
    df = _select(df, at)
    bys = _columns(by)
    _require_columns(df, [*bys, "kmap_lock_wait_counts"])
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
    title = "distribution (CDF)" if kind == "cdf" else "histogram"
    pooled = f"{_seeds(nseeds)} pooled" if nseeds > 1 else _seeds(nseeds)
    axes.set_title(f"kmap_lock wait {title}{_at_text(at)}, {pooled}", fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(title=", ".join(bys), fontsize=8, title_fontsize=8, loc="best")
    return fig


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
    left alone.
    """
    require_matplotlib()
    df = _frame_of(result)
    order = list(result.grid) if isinstance(result, SweepResult) else []
    varying = _varying(df, order)
    numeric = [v for v in varying if pd.api.types.is_numeric_dtype(df[v])]
    x = "cpus" if "cpus" in varying else (numeric[0] if numeric else "cpus")
    hue: list[str] = [v for v in varying if v != x] or ["strategy"]
    at = {x: _plain(df[x].max())} if x in df and df[x].nunique() > 1 else None

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with _headless():
        figures = {
            "scaling": scaling(df, x=x, hue=hue),
            "breakdown": breakdown(df, at=at, by=hue),
            "lock_wait": lock_wait(df, at=at, by=hue),
        }
        for name, fig in figures.items():
            path = out / f"{name}.png"
            fig.savefig(path, dpi=dpi)
            paths.append(path)
    return paths


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


def _frame_of(obj: SweepResult | pd.DataFrame) -> pd.DataFrame:
    if isinstance(obj, SweepResult):
        return obj.frame
    if isinstance(obj, pd.DataFrame):
        return obj
    raise TypeError(f"expected a SweepResult or its DataFrame, got {type(obj).__name__}")


def _columns(spec: str | Sequence[str] | None) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    return list(spec)


def _require_columns(df: pd.DataFrame, names: Sequence[str]) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ScenarioError.of(
            "columns",
            f"no column {', '.join(quote(n) for n in missing[:5])} in the frame",
            "columns of the frame: " + _names(df.columns),
        )
    if df.empty:
        raise ValueError("the frame has no rows")


def _select(df: pd.DataFrame, at: Mapping[str, Any] | None) -> pd.DataFrame:
    """The rows where every field in ``at`` has its value."""
    allowed = "None, or a mapping of frame columns to values; columns: " + _names(df.columns)
    if at is not None and not isinstance(at, Mapping):
        raise ScenarioError.of("at", f"got {type(at).__name__} {quote(at)}", allowed)
    if not at:
        return df
    mask = pd.Series(True, index=df.index)
    for name, value in at.items():
        if not isinstance(name, str) or name not in df.columns:
            raise ScenarioError.of(
                "at", f"at={quote(at)}: no column {quote(name)} in the frame", allowed
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
    extra = [v for v in _varying(df) if v not in keep]
    if extra:
        values = {v: sorted(df[v].unique().tolist()) for v in extra}
        raise ValueError(
            f"{what}: the rows also differ in {values}; averaging over that would mix machines."
            " Pick one with at={...}, or show it with hue/by"
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
        values = json.loads(cell) if isinstance(cell, str) else cell
        arr = np.asarray(values, dtype=np.int64)
        if arr.shape != (NBUCKETS,):
            raise ValueError(f"kmap_lock_wait_counts: {arr.shape} buckets, expected {NBUCKETS}")
        total += arr
    return total


def _x_axis(axes: Axes, values: pd.Series) -> None:
    """A log2 axis with a tick per value for CPU counts and other power-of-two-spaced values."""
    xs = np.sort(pd.unique(values.to_numpy()))
    if not pd.api.types.is_numeric_dtype(values):
        return
    positive = bool((xs > 0).all())
    log2 = values.name == "cpus" or (
        positive and len(xs) >= 3 and bool(np.allclose(np.log2(xs), np.round(np.log2(xs))))
    )
    if log2 and positive:
        axes.set_xscale("log", base=2)
        axes.set_xticks(xs, labels=[f"{x:g}" for x in xs])
        axes.minorticks_off()


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
