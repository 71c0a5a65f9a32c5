"""`run_study`: the project's main job, the scaling study of the seed mail's machine.

Every flush strategy on the ``pIII-8way-2001`` preset, from 1 to 64 CPUs, for several seeds:

>>> from kmapsim.study import run_study
>>> study = run_study("kmapsim-study")                  # doctest: +SKIP
>>> print(study.summary())                              # doctest: +SKIP
>>> study.result.frame                                  # doctest: +SKIP

It writes into ``outdir``: ``study.sqlite`` (the store: running the study again skips the runs it
holds, and a killed study resumes), ``study.parquet`` and ``study.csv`` (a row per run, see
`kmapsim.sweep.row_of`) and the plots ``scaling.png``, ``breakdown.png`` and ``lock_wait.png``
(see `kmapsim.plots`). ``kmapsim study`` runs it from the command line and prints `summary()`.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from kmapsim._quote import quote
from kmapsim.errors import ScenarioError
from kmapsim.scenario import Scenario
from kmapsim.sweep import SweepResult, sweep

__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_CYCLES",
    "DEFAULT_PRESET",
    "DEFAULT_SEEDS",
    "Study",
    "all_strategies",
    "at_largest",
    "run_study",
    "throughput_table",
]

DEFAULT_PRESET = "pIII-8way-2001"
DEFAULT_CPUS = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_SEEDS = 3
DEFAULT_CYCLES = 20_000_000


def all_strategies() -> list[str]:
    """Every flush strategy the engine models, in the order of `kmapsim strategies`."""
    spec = next(s for s in Scenario.fields() if s["name"] == "strategy")
    return list(spec["choices"] or [])


@dataclass(frozen=True)
class Study:
    """What `run_study` ran and wrote."""

    result: SweepResult
    #: The preset the machine came from; None when it came from a ``scenario``.
    preset: str | None
    outdir: Path
    store: Path
    parquet: Path
    csv: Path
    #: The PNG files (empty when run with ``plots=False``).
    plots: list[Path] = field(default_factory=list)
    #: Wall time of the whole study, runs, tables and plots.
    seconds: float = 0.0
    #: Where the machine came from, for the summary: ``preset NAME``, ``scenario FILE`` or
    #: ``scenario Scenario(...)`` (empty: ``preset PRESET``).
    source: str = ""

    @property
    def paths(self) -> list[Path]:
        """Every file the study wrote, the store first."""
        return [self.store, self.parquet, self.csv, *self.plots]

    @property
    def runs(self) -> int:
        return len(self.result.frame)

    def summary(self) -> str:
        """The tables ``kmapsim study`` prints (see `throughput_table` and `at_largest`)."""
        r = self.result
        n = len(r.seeds)
        seeds = f"{n} seed{'' if n == 1 else 's'}"
        lines = [
            f"kmapsim study: {self.source or f'preset {self.preset}'}, {self.runs} runs"
            f" ({seeds} x {r.cycles:,} cycles)",
            "",
            f"throughput (kmaps per million cycles, all CPUs), mean of {seeds}",
            _text(throughput_table(r), index_name="CPUs", fmt="{:,.1f}"),
            "",
        ]
        big = at_largest(r)
        cpus = int(r.frame["cpus"].max())
        lines.append(f"at {cpus} CPUs (mean of {seeds}; stale accesses summed over them)")
        lines.append(
            _text(
                big,
                index_name="strategy",
                fmt={
                    "throughput": "{:,.1f}",
                    "kmap_spin %": "{:.1f}",
                    "stale accesses": "{:,d}",
                },
            )
        )
        lines.append(
            "(no stale access here does not make a strategy safe: `async` fails when IPIs are"
            " slow and TLB entries live long; see docs/validation.md, section c)"
        )
        return "\n".join(lines)


def throughput_table(result: SweepResult | pd.DataFrame) -> pd.DataFrame:
    """Mean throughput across seeds: a row per CPU count, a column per strategy (grid order)."""
    f = result.frame if isinstance(result, SweepResult) else result
    table = f.pivot_table(
        index="cpus", columns="strategy", values="throughput", aggfunc="mean", sort=False
    )
    table = table.sort_index()
    table.columns.name = None
    return table[list(pd.unique(f["strategy"]))]


def at_largest(result: SweepResult | pd.DataFrame) -> pd.DataFrame:
    """At the largest CPU count, per strategy: mean throughput, mean % of all CPU cycles spent
    spinning on kmap_lock, and stale TLB accesses summed over the seeds."""
    f = result.frame if isinstance(result, SweepResult) else result
    f = f[f["cpus"] == f["cpus"].max()]
    g = f.groupby("strategy", sort=False)
    out = pd.DataFrame(
        {
            "throughput": g["throughput"].mean(),
            "kmap_spin %": g["share_kmap_spin"].mean() * 100.0,
            "stale accesses": g["stale_accesses"].sum().astype(int),
        }
    )
    out.index.name = None
    return out


def run_study(
    outdir: str | os.PathLike[str] = "kmapsim-study",
    preset: str | None = None,
    cpus: int | Sequence[int] = DEFAULT_CPUS,
    strategies: Sequence[str] | None = None,
    seeds: int | Sequence[int] = DEFAULT_SEEDS,
    cycles: int = DEFAULT_CYCLES,
    executor: cf.Executor | Literal["serial"] | None = None,
    progress: bool = True,
    plots: bool = True,
    scenario: Scenario | str | os.PathLike[str] | None = None,
) -> Study:
    """Run ``preset`` for every CPU count x strategy x seed and write the store, the tables and
    the plots into ``outdir`` (created if needed); see the module doc for the files.

    The machine is ``preset`` (default ``pIII-8way-2001``) or, instead, ``scenario``: a
    `Scenario` or the path of a scenario file (see `Scenario.from_file`); giving both is a
    ScenarioError. Its ``cpus`` and ``strategy`` are replaced by the swept values.
    ``cpus`` is a list of CPU counts (or one count, as an int); ``strategies`` defaults to all
    of them (`all_strategies`); ``seeds`` is a count or a list of seeds. numpy integers and 1-D
    arrays are accepted for each; anything else is a ScenarioError naming the argument, raised
    before any run starts.
    ``executor`` and ``progress`` are passed to `kmapsim.sweep`. With ``plots`` (the default),
    matplotlib must be installed (``pip install 'kmapsim[plot]'``); this is checked before any
    run starts. Returns a `Study`; ``study.result.reused`` says how many runs the store held.
    """
    start = time.perf_counter()
    if plots:
        from kmapsim.plots import require_matplotlib

        require_matplotlib()
    if scenario is not None and preset is not None:
        raise ScenarioError.of(
            "scenario", f"given with preset {quote(preset)}", "a preset or a scenario, not both"
        )
    if isinstance(scenario, Scenario):
        base, source = scenario, f"scenario {quote(scenario, 1000)}"
    elif scenario is not None:
        base, source = Scenario.from_file(scenario), f"scenario {os.fspath(scenario)}"
    else:
        preset = preset or DEFAULT_PRESET
        base, source = Scenario.preset(preset), f"preset {preset}"
    # sweep checks each list (field "cpus", "strategy" or "seeds") before any run; a single CPU
    # count may be given as an int, and numpy arrays and integers are accepted as they are.
    cpu_arg: Iterable[Any] = cpus  # type: ignore[assignment]
    if isinstance(cpus, (int, np.integer)) and not isinstance(cpus, bool):
        cpu_arg = [int(cpus)]
    grid: dict[str, Iterable[Any]] = {
        "cpus": cpu_arg,
        "strategy": all_strategies() if strategies is None else strategies,
    }
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "study.sqlite"
    result = sweep(
        base,
        grid=grid,
        seeds=seeds,
        cycles=cycles,
        executor=executor,
        progress=progress,
        store=store,
    )
    parquet = result.to_parquet(out / "study.parquet")
    csv = result.to_csv(out / "study.csv")
    pngs: list[Path] = []
    if plots:
        from kmapsim.plots import save_all

        pngs = save_all(result, out)
    return Study(
        result=result,
        preset=preset,
        outdir=out,
        store=store,
        parquet=parquet,
        csv=csv,
        plots=pngs,
        seconds=time.perf_counter() - start,
        source=source,
    )


def _text(table: pd.DataFrame, index_name: str, fmt: str | dict[str, str]) -> str:
    """A DataFrame as the aligned text columns of ``kmapsim run`` (numbers right-aligned)."""
    from kmapsim.cli import _table

    def cell(column: str, value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        f = fmt if isinstance(fmt, str) else fmt.get(column, "{}")
        return f.format(value)

    header = [index_name, *map(str, table.columns)]
    rows = [
        [str(idx), *(cell(str(c), v) for c, v in zip(table.columns, row, strict=True))]
        for idx, row in zip(table.index, table.itertuples(index=False, name=None), strict=True)
    ]
    numeric_index = pd.api.types.is_numeric_dtype(table.index)
    return _table(header, rows, right=range(0 if numeric_index else 1, len(header)))
