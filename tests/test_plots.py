"""Plots: each draws what it says on a small sweep, and save_all writes real, readable PNGs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kmapsim
from kmapsim import Scenario, plots

pytest.importorskip("matplotlib")

import matplotlib.image
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BASE = Scenario.preset("pIII-8way-2001")
GRID = {"cpus": [1, 4, 16], "strategy": ["sync", "local"]}


@pytest.fixture(scope="module")
def result() -> kmapsim.SweepResult:
    return kmapsim.sweep(BASE, grid=GRID, seeds=2, cycles=300_000, progress=False)


@pytest.fixture(autouse=True)
def _close_figures() -> object:
    yield
    plt.close("all")


def assert_png(path: Path) -> None:
    """A PNG file (by its signature) that matplotlib reads back as a real picture."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert height >= 300 and width >= 300
    assert float(np.std(image)) > 0.01  # not a blank canvas


def test_scaling_draws_a_line_per_strategy_on_log2_cpus(result: kmapsim.SweepResult) -> None:
    before = len(plt.get_fignums())
    fig = plots.scaling(result)
    assert isinstance(fig, Figure)
    assert len(plt.get_fignums()) == before + 1  # a pyplot figure: it shows in a notebook
    ax = fig.axes[0]
    # log2 x and log2 y: linear scaling is a straight line of slope 1, and the labels say so.
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", "16"]
    assert "kmaps per million cycles" in ax.get_ylabel() and "log2" in ax.get_ylabel()
    assert ax.get_xlabel() == "CPUs (log2 scale)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["sync", "local"] and "linear scaling" in labels[2]
    f = result.frame
    lines = {line.get_label(): line for line in ax.get_lines()}
    expected = f[f.strategy == "sync"].groupby("cpus")["throughput"].mean().to_numpy()
    np.testing.assert_allclose(lines["sync"].get_ydata(), expected)
    # The reference line shares no line style (nor width) with any strategy, local included.
    ref = next(line for name, line in lines.items() if name.startswith("linear scaling"))
    for name in ("sync", "local"):
        assert (lines[name].get_linestyle(), lines[name].get_linewidth()) != (
            ref.get_linestyle(),
            ref.get_linewidth(),
        )
    assert ref.get_linewidth() >= 3 * lines["local"].get_linewidth()
    np.testing.assert_allclose(np.diff(np.log2(ref.get_ydata())), np.diff(np.log2([1, 4, 16])))
    # The min-max band: a shaded area per strategy, with its edges drawn.
    assert len(ax.collections) == 2
    title = ax.get_title()
    assert "2 seeds x 300,000 cycles" in title and "min-max" in title


def test_scaling_of_a_non_rate_keeps_a_linear_y(result: kmapsim.SweepResult) -> None:
    ax = plots.scaling(result, y="share_kmap_spin").axes[0]
    assert ax.get_yscale() == "linear"
    ax = plots.scaling(result, logy=False, title="preset pIII-8way-2001").axes[0]
    assert ax.get_yscale() == "linear" and ax.get_title().startswith("preset pIII-8way-2001")


def test_breakdown_scaling_stacks_a_panel_per_strategy(result: kmapsim.SweepResult) -> None:
    fig = plots.breakdown_scaling(result, title="preset")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["sync", "local"]
    for ax in panels:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", "16"]
        totals: dict[float, float] = {}
        for patch in ax.patches:
            totals[patch.get_x()] = totals.get(patch.get_x(), 0.0) + patch.get_height()
        assert len(totals) == 3
        assert all(t == pytest.approx(100.0) for t in totals.values())
    # The flush and lock-spin categories are always there, at the bottom of each bar.
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[-3:] == ["flush_scan", "ipi_wait", "kmap_spin"]
    assert "2 seeds x 300,000 cycles" in fig.get_suptitle() and "preset" in fig.get_suptitle()


def test_stale_draws_zero_lines_and_marks(tmp_path: Path) -> None:
    r = kmapsim.sweep(
        BASE.replace(tlb_evict_rate=0.0, last_pkmap=64),
        grid={"cpus": [8], "ipi_latency": [300, 3000], "strategy": ["sync", "async"]},
        seeds=2,
        cycles=4_000_000,
        progress=False,
    )
    fig = plots.stale(r, marks={"preset: 1,400": 1400}, title="safety")
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_title() == "8 CPUs"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["sync: 0 at every ipi_latency", "async"]
    async_line = next(line for line in ax.get_lines() if line.get_label() == "async")
    assert async_line.get_ydata()[-1] > 0
    assert "preset: 1,400" in [t.get_text() for t in ax.texts]
    assert "2 seeds x 4,000,000 cycles" in fig.get_suptitle()


def test_scaling_error_bars_and_a_given_axes(result: kmapsim.SweepResult) -> None:
    fig, ax = plt.subplots()
    assert plots.scaling(result.frame, ax=ax, spread="errorbar", y="share_kmap_spin") is fig
    assert ax.containers  # the error bars
    assert "kmap_spin" in ax.get_ylabel()


def test_breakdown_stacks_to_100_percent_with_small_categories_merged(
    result: kmapsim.SweepResult,
) -> None:
    fig = plots.breakdown(result)  # default: the largest CPU count
    ax = fig.axes[0]
    assert "16 CPUs" in ax.get_title()
    heights: dict[float, float] = {}
    for patch in ax.patches:
        heights[patch.get_x()] = heights.get(patch.get_x(), 0.0) + patch.get_height()
    assert len(heights) == 2
    for total in heights.values():
        assert total == pytest.approx(100.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "work" in labels and any(label.startswith("other (") for label in labels)
    assert "kmap_local" not in labels  # below 1% in both bars, so inside "other"
    # The same category has the same colour in every plot.
    work = next(c for c in ax.containers if c.get_label() == "work")
    color = work.patches[0].get_facecolor()  # type: ignore[attr-defined]
    assert matplotlib.colors.to_hex(color) == plots.category_colors()["work"]


def test_breakdown_at_a_chosen_point(result: kmapsim.SweepResult) -> None:
    ax = plots.breakdown(result, at={"cpus": 1}, min_share=0.0).axes[0]
    assert "1 CPUs" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == len(kmapsim.CATEGORIES)  # nothing merged


@pytest.mark.parametrize("kind", ["cdf", "hist"])
def test_lock_wait_distributions(result: kmapsim.SweepResult, kind: str) -> None:
    ax = plots.lock_wait(result, at={"cpus": 16}, kind=kind).axes[0]  # type: ignore[arg-type]
    assert ax.get_xscale() == "log" and "cycles" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("sync: ") and "acquisitions" in labels[0]
    assert labels[1] == "local: no kmap_lock acquisitions"
    if kind == "cdf":
        cdf = ax.get_lines()[0].get_ydata()
        assert np.all(np.diff(cdf) >= 0) and cdf[-1] == pytest.approx(1.0)


def test_lock_wait_cdf_is_exact_at_powers_of_two() -> None:
    counts = [0] * 65
    counts[0], counts[1], counts[3] = 2, 1, 1  # waits 0, 0, 1 and one in [4, 8)
    frame = pd.DataFrame(
        {"strategy": ["sync"], "cpus": [8], "seed": [0], "kmap_lock_wait_counts": [counts]}
    )
    line = plots.lock_wait(frame).axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [1, 2, 4, 8, 16])
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.75, 0.75, 1.0, 1.0])


def test_frames_read_back_from_parquet_and_csv_plot_the_same(
    result: kmapsim.SweepResult, tmp_path: Path
) -> None:
    want = plots.lock_wait(result).axes[0].get_lines()[0].get_ydata()
    for frame in (
        pd.read_parquet(result.to_parquet(tmp_path / "t.parquet")),
        pd.read_csv(result.to_csv(tmp_path / "t.csv")),
    ):
        got = plots.lock_wait(frame).axes[0].get_lines()[0].get_ydata()
        np.testing.assert_allclose(got, want)


def test_save_all_writes_readable_pngs_off_pyplot(
    result: kmapsim.SweepResult, tmp_path: Path
) -> None:
    before = plt.get_fignums()
    backend = matplotlib.get_backend()
    paths = plots.save_all(result, tmp_path / "plots")
    assert [p.name for p in paths] == ["scaling.png", "breakdown.png", "lock_wait.png"]
    for p in paths:
        assert_png(p)
    assert plt.get_fignums() == before  # no figures left in pyplot
    assert matplotlib.get_backend() == backend


def test_save_all_on_a_sweep_of_another_field(tmp_path: Path) -> None:
    r = kmapsim.sweep(
        BASE.replace(cpus=4),
        grid={"irq_hold_cycles": [1000, 30000], "strategy": ["sync", "async"]},
        seeds=1,
        cycles=200_000,
        progress=False,
    )
    for p in plots.save_all(r, tmp_path):
        assert_png(p)


def test_rows_differing_in_an_unplotted_field_are_refused() -> None:
    r = kmapsim.sweep(
        BASE, grid={"cpus": [1, 2], "irq_locks": [1, 4]}, cycles=100_000, progress=False
    )
    with pytest.raises(ValueError, match="irq_locks"):
        plots.scaling(r)
    plots.scaling(r, at={"irq_locks": 4}, hue=None)
    plots.scaling(r, hue="irq_locks")


def test_bad_selections_name_what_is_there(result: kmapsim.SweepResult) -> None:
    with pytest.raises(ValueError, match=r"matches no row.*'cpus': \[1, 4, 16\]"):
        plots.breakdown(result, at={"cpus": 64})
    with pytest.raises(ValueError, match="cpuz"):
        plots.lock_wait(result, at={"cpuz": 1})
    with pytest.raises(ValueError, match="no column 'speed'"):
        plots.scaling(result, y="speed")
    with pytest.raises(TypeError):
        plots.scaling([1, 2, 3])  # type: ignore[arg-type]


def test_missing_matplotlib_names_the_extra(
    result: kmapsim.SweepResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'kmapsim\[plot\]'"):
        plots.scaling(result)
    with pytest.raises(plots.PlotsUnavailable):
        plots.save_all(result, "unused")
