"""`run_study`: the project's main job, the seed mail's two questions put to the simulator.

Mark Hemment's mail (lse-tech, 3 July 2001) proposed making the flush_tlb_all() done under
kmap_lock asynchronous and asked (a) whether that is safe and (b) whether it fixes kmap_lock
contention on big machines. The study runs every flush strategy from 1 to 64 CPUs, for several
seeds, in three regimes of the ``pIII-8way-2001`` machine (`REGIMES`): the preset as published,
a flush-bound load (docs/scripts/scaling.py's corner, where the flush is most of the lock hold
time) and a safety regime (slow IPIs and long-lived TLB entries, where ``async`` can read a
stale TLB entry, as in docs/scripts/safety.py); then, in the safety regime, a small sweep over
the IPI latency at 8 and 64 CPUs.

>>> from kmapsim.study import run_study
>>> study = run_study("kmapsim-study")                  # doctest: +SKIP
>>> print(study.summary())                              # doctest: +SKIP
>>> study.result.frame                                  # doctest: +SKIP

`Study.summary` answers both halves at 8 and 64 CPUs: per regime and strategy, throughput, the
change from ``sync``, stale TLB accesses, the share of cycles in flush_scan, ipi_wait and
kmap_spin, and a verdict line per half computed from those numbers.

It writes into ``outdir``: ``study.sqlite`` (the store: running the study again skips the runs it
holds, and a killed study resumes), ``study.parquet`` and ``study.csv`` (a row per run, see
`kmapsim.sweep.row_of`, with a first column ``regime``: a regime's name, or ``safety-latency``
for the IPI latency sweep) and the plots ``scaling.png``, ``breakdown.png``, ``lock_wait.png``,
``cycles_<regime>.png`` for each regime and ``stale.png`` (see `kmapsim.plots.save_study`).
``kmapsim study`` runs it from the command line and prints `summary()`.
"""

from __future__ import annotations

import concurrent.futures as cf
import html
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from kmapsim._frozen import FrozenList, freeze_mapping, owned_frames, sealed
from kmapsim._numbers import as_int
from kmapsim._quote import did_you_mean, quote, shown_path
from kmapsim.errors import ScenarioError, ScenarioTypeError, bad_name
from kmapsim.outputs import distinct, output_dir, writing
from kmapsim.presets import DEFAULT_PRESET
from kmapsim.runner import _flag, _int_arg
from kmapsim.scenario import Scenario
from kmapsim.sweep import (
    MAX_POINTS,
    SweepResult,
    _check_run_args,
    _grid_sources,
    _plain,
    _points,
    _seed_list,
    _seed_source,
    _sized,
    progress_bar,
    sweep,
)

__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_CYCLES",
    "DEFAULT_LATENCIES",
    "DEFAULT_PRESET",
    "DEFAULT_SEEDS",
    "FOCUS_CPUS",
    "GAIN_THRESHOLD",
    "REGIMES",
    "Regime",
    "Study",
    "all_strategies",
    "answer_table",
    "at_largest",
    "cycle_table",
    "pkmap_pool",
    "run_study",
    "throughput_table",
    "verdicts",
]

DEFAULT_CPUS = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_SEEDS = 3
DEFAULT_CYCLES = 20_000_000
#: IPI latencies (cycles) of the stale-access sweep in the safety regime: a spread around the
#: preset's 1400 (an assumption of 1-3 us on a PIII, docs/model.md's field table), from fast
#: local APICs to slow ones; the points are a tool setting.
DEFAULT_LATENCIES = (100, 300, 700, 1400, 3000, 10000)
#: The CPU counts the summary answers at: the seed mail's 8-way machine and a big one. A study
#: run without both answers at its smallest and largest CPU counts.
FOCUS_CPUS = (8, 64)
#: The smallest throughput change (a fraction) the verdict counts as a gain: a tool setting,
#: chosen well above the spread between seeds (about 1% on the preset, README's scaling plot)
#: and below the flush-bound regime's measured gains (20-25%); neither sourced nor fitted.
GAIN_THRESHOLD = 0.05
#: The strategy the mail proposes and the one it replaces.
PROPOSAL, BASELINE = "async", "sync"
#: The cycle categories the summary shows: the flusher's clearing loop and its wait for the
#: IPI acks, and the CPUs spinning on kmap_lock meanwhile.
SHOWN_CATEGORIES = ("flush_scan", "ipi_wait", "kmap_spin")
#: The ``regime`` of the rows of the IPI latency sweep.
LATENCY_SWEEP = "safety-latency"


#: The most CPUs a scenario has (the cpus field's maximum).
_CPUS_MAX: int = int(next(s for s in Scenario.fields() if s["name"] == "cpus")["max"] or 0)


def all_strategies() -> list[str]:
    """Every flush strategy the engine models, in the order of `kmapsim strategies`."""
    spec = next(s for s in Scenario.fields() if s["name"] == "strategy")
    return list(spec["choices"] or [])


def pkmap_pool(cpus: int, slots_per_cpu: int) -> int:
    """``slots_per_cpu`` pkmap slots per CPU, rounded up to a power of two (LAST_PKMAP is one),
    between 2 and 65536."""
    cpus = _int_arg("cpus", cpus, 1, _CPUS_MAX)
    slots_per_cpu = _int_arg("slots_per_cpu", slots_per_cpu, 1, 65536)
    want = max(2, slots_per_cpu * cpus)
    return min(65536, 1 << (want - 1).bit_length())


@sealed
@dataclass(frozen=True)
class Regime:
    """A load of the study's machine: ``fields`` set on it, and, with ``slots_per_cpu``, a pkmap
    pool (``last_pkmap``) that grows with the CPU count (see `pkmap_pool`)."""

    name: str
    #: What it is and where it comes from, one line.
    about: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    slots_per_cpu: int | None = None

    def __post_init__(self) -> None:
        # Checked when made, not at the study's first run: a regime is a value a user builds.
        for name in ("name", "about"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ScenarioTypeError.of(name, f"got {quote(value)}", "a non-empty string")
            if name == "name" and not value:
                raise ScenarioError.of(name, f"got {quote(value)}", "a non-empty string")
        if not isinstance(self.fields, Mapping) or not all(isinstance(k, str) for k in self.fields):
            raise ScenarioTypeError.of(
                "fields", f"got {quote(self.fields)}", "a mapping of scenario field names to values"
            )
        # Frozen means hashable and unchangeable: the study reads fields at every run.
        object.__setattr__(self, "fields", freeze_mapping(self.fields))
        if self.slots_per_cpu is not None:
            n = _int_arg("slots_per_cpu", self.slots_per_cpu, 1, 65536)
            object.__setattr__(self, "slots_per_cpu", n)

    def scenario(self, base: Scenario, cpus: int) -> Scenario:
        """``base`` under this regime at ``cpus`` CPUs: ``fields`` set, and with
        ``slots_per_cpu`` a pool of `pkmap_pool` slots. A ScenarioError for a field value the
        scenario refuses."""
        changes: dict[str, Any] = {**self.fields, "cpus": cpus}
        if self.slots_per_cpu is not None:
            changes["last_pkmap"] = pkmap_pool(cpus, self.slots_per_cpu)
        return base.replace(**changes)

    def describe(self) -> str:
        """Its fields and its source, for titles and the summary."""
        parts = [f"{k}={v}" for k, v in self.fields.items()]
        if self.slots_per_cpu is not None:
            n = self.slots_per_cpu
            parts.append(
                f"last_pkmap={n} per CPU ({pkmap_pool(8, n)} at 8 CPUs, {pkmap_pool(64, n)} at 64)"
            )
        return (", ".join(parts) + ": " if parts else "") + self.about


#: The study's regimes, each from 1 to 64 CPUs with every strategy.
REGIMES: tuple[Regime, ...] = (
    Regime("preset", "the machine as given"),
    # docs/scripts/scaling.py, flush_bound_corner(): {"cpus": 8, "work_cycles": 2000,
    # "last_pkmap": 64, "irq_hold_cycles": 30000} on pIII-8way-2001, where sync spends 91% of its
    # kmap_lock hold time in the flush and async gains about 28% (docs/validation.md, section b).
    # Scaled to other CPU counts by keeping its 8 pkmap slots per CPU: 64 at 8 CPUs (the corner
    # itself), 512 at 64 CPUs (LAST_PKMAP with PAE). A fixed 64-slot pool would give each of 64
    # CPUs one slot, so the pool would fill with held mappings: a different machine, not a
    # bigger one.
    Regime(
        "flush-bound",
        "frequent kmaps, long interrupts-off sections, a small pool: docs/scripts/scaling.py's"
        " flush-bound corner",
        {"work_cycles": 2000, "irq_hold_cycles": 30000},
        slots_per_cpu=8,
    ),
    # docs/scripts/safety.py: async reads a stale TLB entry when an IPI is still in flight when
    # the remote CPU next gets kmap_lock, which needs slow IPIs and TLB entries that live long
    # (its table with no unrelated evictions: stale reads from 700 cycles of latency on, most in
    # small and medium pools). Here 3000 cycles (4.3 us at 700 MHz), no evictions, and the
    # flush-bound regime's 8 slots per CPU; the rest is the preset's workload.
    Regime(
        "safety",
        "slow IPIs, TLB entries never evicted by other traffic: where docs/scripts/safety.py"
        " finds async's stale reads",
        {"tlb_evict_rate": 0.0, "ipi_latency": 3000},
        slots_per_cpu=8,
    ),
)


@sealed
@dataclass(frozen=True)
class Study:
    """What `run_study` ran and wrote. Equal when every field is; not hashable, as its
    ``result`` holds a DataFrame. The repr is the one-line headline; notebooks show it and
    the answer table as HTML (``_repr_html_``)."""

    # result is a SweepResult, which is not hashable: say so rather than fail inside hash().
    __hash__ = None  # type: ignore[assignment]

    #: Every run of the study, a ``regime`` column first (see the module doc).
    result: SweepResult
    #: The preset the machine came from; None when it came from a ``scenario``.
    preset: str | None
    outdir: Path
    store: Path
    parquet: Path
    csv: Path
    #: The PNG files (empty when run with ``plots=False``).
    plots: Sequence[Path] = ()
    #: Wall time of the whole study, runs, tables and plots.
    seconds: float = 0.0
    #: Where the machine came from, for the summary: ``preset NAME``, ``scenario FILE`` or
    #: ``scenario Scenario(...)`` (empty: ``preset PRESET``).
    source: str = ""
    #: The regimes run, in order.
    regimes: tuple[Regime, ...] = REGIMES
    #: The CPU counts the summary answers at.
    focus: tuple[int, ...] = FOCUS_CPUS
    #: The IPI latencies of the stale-access sweep (empty: not run).
    latencies: tuple[int, ...] = ()

    @property
    def paths(self) -> list[Path]:
        """Every file the study wrote, the store first."""
        return [self.store, self.parquet, self.csv, *self.plots]

    def __post_init__(self) -> None:
        object.__setattr__(self, "plots", FrozenList(self.plots))

    @property
    def runs(self) -> int:
        """How many runs the study made (rows of ``result.frame``)."""
        return len(self.result.frame)

    def _repr_html_(self) -> str:
        """A small HTML summary for notebooks: where the machine came from, the runs, and
        the answer table at the focus CPU counts, escaped."""
        esc = html.escape
        table = answer_table(self.result.frame, self.focus).to_html()
        return (
            f"<div><p><b>Study</b>: {esc(self.source or f'preset {self.preset}')}, "
            f"{self.runs:,} runs in {self.seconds:.1f} s, written to {esc(str(self.outdir))}"
            f"</p>{table}</div>"
        )

    def regime(self, name: str) -> pd.DataFrame:
        """The rows of one regime (or of ``safety-latency``, the IPI latency sweep); a name
        the study did not run is a ScenarioError naming those it ran."""
        return _regime_rows(self.result.frame, name)

    def summary(self) -> str:
        """The answer ``kmapsim study`` prints: `answer_table`, `cycle_table` and `verdicts`."""
        r = self.result
        n = len(r.seeds)
        seeds = f"{n} seed{'' if n == 1 else 's'}"
        frame = r.frame
        scaling = frame[frame["regime"] != LATENCY_SWEEP]
        cpus = ", ".join(str(c) for c in sorted(pd.unique(scaling["cpus"])))
        lines = [
            f"kmapsim study: {self.source or f'preset {self.preset}'}, {self.runs} runs"
            f" ({seeds} x {r.cycles:,} cycles)",
            "",
            "The seed mail (Mark Hemment, lse-tech, 3 July 2001) proposes an asynchronous",
            "flush_tlb_all() and asks (a) is it safe? (b) does it fix kmap_lock contention on big",
            f"machines? {_strategies_text(scaling)} at {cpus} CPUs in {len(self.regimes)}"
            f" regime{'' if len(self.regimes) == 1 else 's'}:",
        ]
        width = max(len(g.name) for g in self.regimes)
        lines += [f"  {g.name:<{width}}  {g.describe()}" for g in self.regimes]
        if self.latencies:
            lats = ", ".join(f"{v:,}" for v in self.latencies)
            lines.append(
                f"  and, in the safety regime at {' and '.join(map(str, self.focus))} CPUs,"
                f" IPI latencies of {lats} cycles (stale.png)."
            )
        focus = " and ".join(str(c) for c in self.focus)
        change = f", its change from {BASELINE}," if BASELINE in set(scaling["strategy"]) else ""
        lines += [
            "",
            f"throughput (kmaps per million cycles, all CPUs; mean of {seeds}){change}"
            f" and stale TLB accesses (summed over the seeds), at {focus} CPUs",
            _grouped_text(answer_table(frame, self.focus)),
            "",
            f"where the cycles go at {focus} CPUs (% of all CPU cycles, mean of {seeds}):"
            " the flusher's clearing loop, its wait for IPI acks, and CPUs spinning on kmap_lock",
            _grouped_text(cycle_table(frame, self.focus)),
            "",
            *verdicts(frame, self.focus, [g.name for g in self.regimes]),
        ]
        return "\n".join(lines)


def _focus(cpus: Sequence[int]) -> tuple[int, ...]:
    """`FOCUS_CPUS` if the study ran both, else its smallest and largest CPU counts."""
    if all(c in cpus for c in FOCUS_CPUS):
        return FOCUS_CPUS
    return tuple(sorted({min(cpus), max(cpus)}))


def _scaling_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["regime"] != LATENCY_SWEEP] if "regime" in frame.columns else frame


def _order(frame: pd.DataFrame, column: str) -> list[Any]:
    return list(pd.unique(frame[column]))


def answer_table(frame: pd.DataFrame, focus: Sequence[int]) -> pd.DataFrame:
    """Per (regime, strategy), at each ``focus`` CPU count: mean throughput, its change from
    ``sync`` (ratio of the means, minus 1; None for sync, in a regime without sync, or where
    sync completed no kmap, in runs too short to measure a change from it; no such column when
    the frame has no sync run at all) and the stale TLB
    accesses summed over the seeds. Columns are (``N CPUs``, what) pairs. ``focus`` must be
    CPU counts the frame holds (a ScenarioError names them otherwise)."""
    focus = _checked_focus(frame, focus)
    f = _scaling_rows(frame)
    with_base = BASELINE in set(f["strategy"])  # without sync, no column promises a change
    f = f[f["cpus"].isin(list(focus))]
    g = f.groupby(["regime", "strategy", "cpus"], sort=False)
    tput = g["throughput"].mean()
    stale = g["stale_accesses"].sum()
    rows: dict[tuple[str, str], dict[tuple[str, str], Any]] = {}
    for regime in _order(f, "regime"):
        for strategy in _order(f[f["regime"] == regime], "strategy"):
            row: dict[tuple[str, str], Any] = {}
            for c in focus:
                t = tput.get((regime, strategy, c))
                base = tput.get((regime, BASELINE, c))
                change = None
                if t is not None and base is not None and strategy != BASELINE:
                    change = _gain(t, base)
                row[(f"{c} CPUs", "kmaps/Mc")] = t
                if with_base:
                    row[(f"{c} CPUs", f"vs {BASELINE}")] = change
            for c in focus:
                s = stale.get((regime, strategy, c))
                row[("stale accesses", f"{c} CPUs")] = None if s is None else int(s)
            rows[(regime, strategy)] = row
    return _table_of(rows)


def cycle_table(frame: pd.DataFrame, focus: Sequence[int]) -> pd.DataFrame:
    """Per (regime, strategy), at each ``focus`` CPU count: the mean share (%) of all CPU cycles
    in flush_scan, ipi_wait and kmap_spin. ``focus`` is checked as in `answer_table`."""
    focus = _checked_focus(frame, focus)
    f = _scaling_rows(frame)
    f = f[f["cpus"].isin(list(focus))]
    cols = [f"share_{c}" for c in SHOWN_CATEGORIES]
    means = f.groupby(["regime", "strategy", "cpus"], sort=False)[cols].mean() * 100.0
    rows: dict[tuple[str, str], dict[tuple[str, str], Any]] = {}
    for regime in _order(f, "regime"):
        for strategy in _order(f[f["regime"] == regime], "strategy"):
            row: dict[tuple[str, str], Any] = {}
            for c in focus:
                key = (regime, strategy, c)
                for cat, col in zip(SHOWN_CATEGORIES, cols, strict=True):
                    row[(f"{c} CPUs", cat)] = (
                        float(means.loc[key, col]) if key in means.index else None
                    )
            rows[(regime, strategy)] = row
    return _table_of(rows)


def _table_of(rows: dict[tuple[str, str], dict[tuple[str, str], Any]]) -> pd.DataFrame:
    """Rows keyed (regime, strategy), columns keyed (group, name), as a DataFrame."""
    columns = list(next(iter(rows.values()))) if rows else []
    return pd.DataFrame(
        [[row.get(c) for c in columns] for row in rows.values()],
        index=pd.MultiIndex.from_tuples(list(rows), names=["regime", "strategy"]),
        columns=pd.MultiIndex.from_tuples(columns),
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f}%"


def _gain(t: float, base: float) -> float | None:
    """The change from ``base`` to ``t``, or None where ``base`` completed no kmap (a run too
    short to measure it): 0/0 would print as +nan%, and x/0 as +inf%."""
    if not float(base) > 0.0:  # written so that NaN is refused too
        return None
    return float(t) / float(base) - 1.0


def _checked_focus(frame: pd.DataFrame, focus: object) -> tuple[int, ...]:
    """``focus`` as CPU counts of the frame's scaling rows, each once, or the ScenarioError
    naming the counts it holds (an unheld count would give columns of nothing)."""
    present = sorted(int(c) for c in pd.unique(_scaling_rows(_frame_arg(frame))["cpus"]))
    allowed = "a non-empty list of CPU counts the frame holds: " + ", ".join(map(str, present))
    given = _sized("focus", focus, allowed)
    if len(given) == 0 or len(given) > MAX_POINTS:
        raise ScenarioError.of("focus", f"{len(given):,} CPU counts", allowed)
    out = []
    for i, value in enumerate(given):
        c = as_int(value)  # a bool, a fraction or a string is no CPU count
        if c is None or c not in present:
            raise ScenarioError.of("focus", f"focus[{i}] is {quote(value, 60)}", allowed)
        out.append(c)
    return tuple(dict.fromkeys(out))


def _frame_arg(frame: object) -> pd.DataFrame:
    """A study's frame (`Study.result.frame`), or the ScenarioError naming what it lacks."""
    needed = ("strategy", "cpus", "throughput", "stale_accesses")
    allowed = "a study's frame (Study.result.frame), with columns " + ", ".join(needed)
    return _with_columns("frame", frame, needed, allowed)


def _with_columns(field: str, frame: object, needed: Sequence[str], allowed: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame with the ``needed`` columns: another type is a
    ScenarioTypeError, a missing column a ScenarioError."""
    if not isinstance(frame, pd.DataFrame):
        raise ScenarioTypeError.got(field, frame, allowed)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ScenarioError.of(field, "no column " + ", ".join(missing), allowed)
    return frame


def _regime_rows(frame: pd.DataFrame, name: object) -> pd.DataFrame:
    """The rows of regime ``name``, or the ScenarioError naming the regimes the frame has."""
    names = [str(n) for n in pd.unique(frame["regime"])]
    if not isinstance(name, str) or name not in names:
        raise bad_name(
            "regime",
            name,
            f"no regime {quote(name, 60)}{did_you_mean(name, names)}",
            "one of " + ", ".join(names),
        )
    return frame[frame["regime"] == name]


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def verdicts(
    frame: pd.DataFrame, focus: Sequence[int], regimes: Sequence[str] | None = None
) -> list[str]:
    """The answer to each half of the seed mail, one line each (and a line on the alternatives),
    computed from the runs: (a) which strategies read a stale TLB entry in any run of the study,
    (b) where async's throughput gain over sync at the ``focus`` CPU counts reaches
    `GAIN_THRESHOLD`, and what kmap_spin does where it does not. ``focus`` is checked as in
    `answer_table`. A change from sync where sync completed no kmap (too few cycles to measure
    it) is shown as n/a, with the reason. (a) needs no sync run; without one, (b) and the gains
    of the alternatives are not answered, and say so."""
    focus = _checked_focus(frame, focus)
    strategies = _order(frame, "strategy")
    if PROPOSAL not in strategies:
        missing = "the study ran no " + _and(
            [s for s in (PROPOSAL, BASELINE) if s not in strategies]
        )
        return [
            f"(a) is an asynchronous flush safe?  not answered: the study ran no {PROPOSAL}",
            f"(b) does it fix kmap_lock contention?  not answered: {missing}",
        ]
    if BASELINE not in strategies:
        # (a) counts stale reads, which need no baseline; (b) and the gains do.
        return [
            _verdict_a(frame, focus),
            f"(b) does it fix kmap_lock contention?  not answered: the study ran no {BASELINE},"
            f" the baseline its gain is measured against",
            _alternatives_without_baseline(frame),
        ]
    return [
        _verdict_a(frame, focus),
        _verdict_b(frame, focus, regimes),
        _alternatives(frame, focus),
    ]


def _verdict_a(frame: pd.DataFrame, focus: Sequence[int]) -> str:
    runs = frame.groupby("strategy", sort=False)["stale_accesses"]
    total = runs.sum()
    failing = runs.apply(lambda s: int((s > 0).sum()))
    count = runs.size()
    head = "(a) is an asynchronous flush safe?  "
    bad = [s for s in total.index if total[s] > 0]
    clean = [s for s in total.index if total[s] == 0]
    if PROPOSAL in bad:
        where = _stale_where(frame, focus, int(total[PROPOSAL]))
        text = (
            f"NO: {PROPOSAL} read stale TLB entries ({'; '.join(where)}; "
            f"{int(total[PROPOSAL]):,} in all, in {int(failing[PROPOSAL])} of its "
            f"{int(count[PROPOSAL])} runs)"
        )
    else:
        text = (
            f"not refuted here: {PROPOSAL} read no stale TLB entry in its"
            f" {int(count[PROPOSAL])} runs (the race needs slow IPIs and long-lived TLB entries:"
            " docs/validation.md, section c)"
        )
    others = [s for s in bad if s != PROPOSAL]
    if others:
        text += "; " + _and([f"{s} read {int(total[s]):,}" for s in others])
    safe = [s for s in clean if s != PROPOSAL]
    if safe:
        text += f"; {_and(safe)} read none in any of their runs"
    return head + text


def _strategies_text(frame: pd.DataFrame) -> str:
    """``Every strategy`` when the study ran them all, else the ones it ran, by name."""
    ran = [str(s) for s in _order(frame, "strategy")]
    if set(ran) >= set(all_strategies()):
        return "Every strategy"
    return ("The strategy " if len(ran) == 1 else "The strategies ") + _and(ran)


def _stale_where(frame: pd.DataFrame, focus: Sequence[int], total: int) -> list[str]:
    """Where the proposal's ``total`` stale accesses were read, so that every one is placed:
    per regime at the tables' CPU counts, at the regimes' other CPU counts (in no table), and
    in the IPI latency sweep (in no table either: stale.png)."""
    f = _scaling_rows(frame)
    where = []
    placed = 0
    for regime in _order(f, "regime"):
        part = f[(f["regime"] == regime) & (f["strategy"] == PROPOSAL)]
        at = [(c, int(part.loc[part["cpus"] == c, "stale_accesses"].sum())) for c in focus]
        if any(n for _, n in at):
            where.append(_and([f"{n:,} at {c} CPUs" for c, n in at]) + f" in the {regime} regime")
        placed += sum(n for _, n in at)
    lat = frame[frame["regime"] == LATENCY_SWEEP] if "regime" in frame.columns else f.iloc[0:0]
    swept = int(lat.loc[lat["strategy"] == PROPOSAL, "stale_accesses"].sum())
    if total - placed - swept:
        where.append(f"{total - placed - swept:,} at the other CPU counts of the regimes")
    if swept:
        where.append(f"{swept:,} in the safety regime's IPI latency sweep, in no table: stale.png")
    return where


def _means(frame: pd.DataFrame, column: str) -> pd.Series:
    f = _scaling_rows(frame)
    return f.groupby(["regime", "strategy", "cpus"], sort=False)[column].mean()


def _verdict_b(frame: pd.DataFrame, focus: Sequence[int], regimes: Sequence[str] | None) -> str:
    tput = _means(frame, "throughput")
    spin = _means(frame, "share_kmap_spin")
    names = list(regimes) if regimes is not None else _order(_scaling_rows(frame), "regime")
    names = [r for r in names if (r, BASELINE, focus[-1]) in tput.index]
    gains = {
        r: [_gain(tput[(r, PROPOSAL, c)], tput[(r, BASELINE, c)]) for c in focus]
        for r in names
        if all((r, s, c) in tput.index for s in (PROPOSAL, BASELINE) for c in focus)
    }
    # Only measured changes count: n/a is neither a gain nor its absence.
    measured = {r: [(g, c) for g, c in zip(gs, focus, strict=True) if g is not None]
                for r, gs in gains.items()}  # fmt: skip
    helped = [r for r, m in measured.items() if m and max(g for g, _ in m) >= GAIN_THRESHOLD]
    not_helped = [r for r, m in measured.items() if m and r not in helped]
    unmeasured = [r for r, m in measured.items() if not m]
    big = focus[-1]

    def gain_text(r: str) -> str:
        return _and([f"{_pct(g)} at {c} CPUs" for g, c in zip(gains[r], focus, strict=True)])

    parts = []
    for r in helped:
        c = max(measured[r])[1]
        parts.append(
            f"{r} {gain_text(r)} (kmap_spin {spin[(r, BASELINE, c)]:.1%} of cycles under"
            f" {BASELINE} -> {spin[(r, PROPOSAL, c)]:.1%} under {PROPOSAL} at {c} CPUs)"
        )
    rest = []
    for r in not_helped:
        left = spin[(r, PROPOSAL, big)]
        why = (
            f"kmap_spin still {left:.1%} of cycles under {PROPOSAL} at {big} CPUs: not the flush"
            if left >= 0.10
            else f"kmap_spin only {spin[(r, BASELINE, big)]:.1%} under {BASELINE} at {big} CPUs"
        )
        rest.append(f"{r} {gain_text(r)} ({why})")
    note = _unmeasured_note(frame, gains)
    if unmeasured and not helped and not not_helped:
        return f"(b) does it fix kmap_lock contention?  not answered{note}"
    rest += [f"{r} {gain_text(r)}" for r in unmeasured]
    head = "(b) does it fix kmap_lock contention?  "
    threshold = f"a gain of {GAIN_THRESHOLD:.0%} or more"
    if helped and not_helped:
        return (
            head
            + f"ONLY where the flush holds the lock: {'; '.join(parts)}; but {'; '.join(rest)}"
            + note
        )
    if helped:
        return head + f"YES in every regime ({threshold}): {'; '.join(parts)}{note}"
    return head + f"NO, no regime shows {threshold}: {'; '.join(rest)}{note}"


def _unmeasured_note(frame: pd.DataFrame, gains: Mapping[str, Sequence[float | None]]) -> str:
    """Why a change is n/a, or "" when every change was measured."""
    if not any(g is None for gs in gains.values() for g in gs):
        return ""
    cycles = ", ".join(f"{int(c):,}" for c in sorted(pd.unique(frame["cycles"])))
    return (
        f"; n/a: {BASELINE} completed no kmap in {cycles} cycles per run at that CPU count, too"
        " few to measure a change from it (run more cycles)"
    )


def _alternatives_without_baseline(frame: pd.DataFrame) -> str:
    """The strategies with no stale access anywhere, in a study that ran no sync to measure
    their gains against."""
    stale = frame.groupby("strategy", sort=False)["stale_accesses"].sum()
    safe = [str(s) for s in stale.index if stale[s] == 0]
    if not safe:
        return f"    every strategy the study ran read stale TLB entries (it ran no {BASELINE})"
    return (
        f"    without stale reads: {_and(safe)} (no change from {BASELINE} measured: the study"
        f" ran no {BASELINE})"
    )


def _alternatives(frame: pd.DataFrame, focus: Sequence[int]) -> str:
    """The strategies with no stale access anywhere, and their best gain over sync."""
    tput = _means(frame, "throughput")
    stale = frame.groupby("strategy", sort=False)["stale_accesses"].sum()
    safe = [s for s in stale.index if stale[s] == 0 and s not in (BASELINE,)]
    best = []
    for s in safe:
        changes = [
            (_gain(tput[(r, s, c)], tput[(r, BASELINE, c)]), r, c)
            for (r, st, c) in tput.index
            if st == s and c in focus and (r, BASELINE, c) in tput.index
        ]
        options = [(g, r, c) for g, r, c in changes if g is not None]  # n/a: not measured
        if options:
            g, r, c = max(options)
            best.append(f"{s} {_pct(g)} ({r}, {c} CPUs)")
    if not best and safe:
        return (
            f"    without stale reads: no change from {BASELINE} measured ({BASELINE} completed"
            " no kmap at these CPU counts; run more cycles)"
        )
    if not best:
        return "    no strategy but sync is free of stale reads here"
    return "    without stale reads, the best change from sync of each safe strategy: " + "; ".join(
        best
    )


def throughput_table(result: SweepResult | pd.DataFrame, regime: str | None = None) -> pd.DataFrame:
    """Mean throughput across seeds: a row per CPU count, a column per strategy (grid order);
    of one ``regime`` of a study's frame (by default its first)."""
    f = _one_regime(result, regime)
    table = f.pivot_table(
        index="cpus", columns="strategy", values="throughput", aggfunc="mean", sort=False
    )
    table = table.sort_index()
    table.columns.name = None
    return table[list(pd.unique(f["strategy"]))]


def at_largest(result: SweepResult | pd.DataFrame, regime: str | None = None) -> pd.DataFrame:
    """At the largest CPU count, per strategy: mean throughput, mean % of all CPU cycles spent
    spinning on kmap_lock, and stale TLB accesses summed over the seeds; of one ``regime`` of a
    study's frame (by default its first)."""
    f = _one_regime(result, regime)
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


def _one_regime(result: SweepResult | pd.DataFrame, regime: str | None) -> pd.DataFrame:
    needed = ("cpus", "strategy", "throughput", "share_kmap_spin", "stale_accesses")
    allowed = "a SweepResult or its frame, with columns " + ", ".join(needed)
    frame = result.frame if isinstance(result, SweepResult) else result
    f = _with_columns("result", frame, needed, allowed)
    if "regime" not in f.columns:
        return f
    return _regime_rows(f, regime if regime is not None else f["regime"].iloc[0])


def _field_values(name: str, field: str, values: object) -> list[int]:
    """``values`` as the integers scenario field ``field`` takes (a float does not, even a
    whole one, nor a bool or a string), or the ScenarioError naming
    argument ``name`` and the position of the bad value."""
    allowed = f"a list of values of the scenario field {field}, at most {MAX_POINTS:,}"
    given = _sized(name, values, allowed)
    if len(given) > MAX_POINTS:  # checked before any is built: range(10**9) would take hours
        raise ScenarioError.of(name, f"{len(given):,} values are too many", allowed)
    out = []
    for i, value in enumerate(_plain(given)):
        try:
            sc = Scenario(**{field: value})
        except ScenarioError as e:
            raise type(e).of(name, f"{name}[{i}]: {e.problem}", e.allowed) from None
        out.append(int(getattr(sc, field)))
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
    regimes: Sequence[str] | None = None,
    latencies: Sequence[int] = DEFAULT_LATENCIES,
) -> Study:
    """Run every regime of ``preset`` for every CPU count x strategy x seed, and the IPI latency
    sweep, and write the store, the tables and the plots into ``outdir`` (a directory, or a
    new one in an existing directory: a ScenarioFileError naming it otherwise, before any run);
    see the module doc for the files.

    The machine is ``preset`` (default ``pIII-8way-2001``) or, instead, ``scenario``: a
    `Scenario` or the path of a scenario file (see `Scenario.from_file`); giving both is a
    ScenarioError. Each regime (`REGIMES`; ``regimes`` names a subset, in their order) sets its
    fields on it, and ``cpus`` and ``strategy`` are replaced by the swept values.
    ``cpus`` is a list of CPU counts (or one count, as an int); ``strategies`` defaults to all
    of them (`all_strategies`); ``seeds`` is a count or a list of seeds. numpy integers and 1-D
    arrays are accepted for each; anything else is a ScenarioError naming the argument, raised
    before any run starts, as is a scenario that a regime makes invalid. ``latencies`` are the
    IPI latencies of the stale-access sweep in the safety regime, run at 8 and 64 CPUs (or the
    smallest and largest of ``cpus``); empty, or without the safety regime, it is not run.
    ``executor`` and ``progress`` are as in `kmapsim.sweep` (one bar for the whole study). With
    ``plots`` (the default), matplotlib must be installed (``pip install 'kmapsim[plot]'``);
    this is checked before any run starts. Returns a `Study`; ``study.result.reused`` says how
    many runs the store held.
    """
    start = time.perf_counter()
    plots = _flag("plots", plots)  # a truthy "no" must not draw, nor need matplotlib
    progress = _flag("progress", progress)
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
        base, source = Scenario.from_file(scenario), f"scenario {shown_path(scenario)}"
    else:
        preset = preset or DEFAULT_PRESET
        base, source = Scenario.preset(preset), f"preset {preset}"
    chosen = _regimes(regimes)
    # Every list checked (field "cpus", "strategy" or "seeds") and every scenario of every
    # regime built before any run, as sweep does for one grid: a bad last point must not cost
    # the runs before it. A single CPU count may be given as an int; numpy values are accepted.
    cpu_arg: Iterable[Any] = cpus  # type: ignore[assignment]
    single = as_int(cpus)  # any integer (an object with __index__)
    if single is not None:
        cpu_arg = [single]
    n = _check_run_args(cycles, "skip", executor)
    sources = _grid_sources(
        base, {"cpus": cpu_arg, "strategy": all_strategies() if strategies is None else strategies}
    )
    seed_list = _seed_list(_seed_source(seeds))
    cpu_list = _field_values("cpus", "cpus", sources["cpus"])
    strategy_list = _plain(sources["strategy"])
    _points(base, {"cpus": cpu_list, "strategy": strategy_list}, seed_list[:1])
    focus = _focus(cpu_list)
    safety = next((g for g in chosen if g.name == "safety"), None)
    lat_list = _field_values("latencies", "ipi_latency", latencies) if safety is not None else []
    groups: list[tuple[str, Scenario, dict[str, list[Any]]]] = []
    for regime in chosen:
        for c in cpu_list:
            groups.append((regime.name, regime.scenario(base, c), {"strategy": strategy_list}))
    if safety is not None and lat_list:
        own = safety.fields.get("ipi_latency")
        extra = [v for v in dict.fromkeys(lat_list) if v != own]  # the regime's own are run
        for c in focus if extra else ():
            grid = {"ipi_latency": extra, "strategy": strategy_list}
            groups.append((LATENCY_SWEEP, safety.scenario(base, c), grid))
    for _, sc, grid in groups:
        _points(sc, grid, seed_list[:1])

    files = ("study.sqlite", "study.parquet", "study.csv")
    out = output_dir("outdir", outdir, files)
    scenario_file = None if isinstance(scenario, Scenario) else scenario
    distinct(
        {"outdir": [out / f for f in _written(files, chosen, plots)]}, {"scenario": scenario_file}
    )
    with writing("outdir", out):
        out.mkdir(exist_ok=True)
    store = out / "study.sqlite"
    frames: list[pd.DataFrame] = []
    reused = 0
    total = sum(math.prod(len(v) for v in g.values()) for _, _, g in groups) * len(seed_list)
    with progress_bar(total, 0, progress, "kmapsim study") as bar:
        for name, sc, grid in groups:
            r = sweep(
                sc,
                grid=grid,
                seeds=seed_list,
                cycles=n,
                executor=executor,
                progress=False,
                store=store,
            )
            frame = r.frame.copy()
            frame.insert(0, "regime", name)
            frames.append(frame)
            reused += r.reused
            bar.update(len(frame))
    frame = pd.concat(frames, ignore_index=True)
    names = [g.name for g in chosen]
    grid_out: dict[str, list[Any]] = {"regime": names, "cpus": cpu_list, "strategy": strategy_list}
    if any(name == LATENCY_SWEEP for name, _, _ in groups):
        grid_out["regime"] = [*names, LATENCY_SWEEP]
        grid_out["ipi_latency"] = sorted(set(lat_list))
    with owned_frames():  # the frame was built for the result: no copy of it
        result = SweepResult(frame=frame, grid=grid_out, seeds=seed_list, cycles=n, reused=reused)
    parquet = result.to_parquet(out / "study.parquet")
    csv = result.to_csv(out / "study.csv")
    pngs: list[Path] = []
    if plots:
        from kmapsim.plots import save_study

        latency = None
        if safety is not None and lat_list:
            # The sweep's latencies, and the safety regime's own latency from its scaling runs.
            lat = frame[frame["regime"] == LATENCY_SWEEP]
            own_rows = frame[(frame["regime"] == "safety") & frame["cpus"].isin(list(focus))]
            latency = pd.concat([lat, own_rows], ignore_index=True)
            latency = latency[latency["ipi_latency"].isin(lat_list)].drop(columns="regime")
        marks = {f"{source.split(' ')[0]}: {base.ipi_latency:,}": float(base.ipi_latency)}
        if safety is not None and "ipi_latency" in safety.fields:
            own = int(safety.fields["ipi_latency"])
            marks[f"safety regime: {own:,}"] = float(own)
        pngs = save_study(
            frame[frame["regime"] != LATENCY_SWEEP],
            out,
            regimes={g.name: g.describe() for g in chosen},
            latency=latency,
            marks=marks,
            title=f"kmapsim study, {source if len(source) <= 60 else source[:57] + '...'}",
        )
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
        regimes=tuple(chosen),
        focus=focus,
        latencies=tuple(sorted(set(lat_list))),
    )


def _written(files: Sequence[str], chosen: Sequence[Regime], plots: bool) -> list[str]:
    """The names of every file the study writes into its directory (`plots.save_study`'s)."""
    if not plots:
        return list(files)
    pngs = ["scaling", "breakdown", "lock_wait", *(f"cycles_{g.name}" for g in chosen), "stale"]
    return [*files, *(f"{name}.png" for name in pngs)]


def _regimes(names: Sequence[str] | None) -> list[Regime]:
    if names is None:
        return list(REGIMES)
    known = {g.name: g for g in REGIMES}
    allowed = "a non-empty list of " + ", ".join(known)
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise ScenarioTypeError.of("regimes", f"got {quote(names, 60)}", allowed)
    chosen = list(dict.fromkeys(names))
    bad = [n for n in chosen if n not in known]
    if bad or not chosen:
        raise ScenarioError.of(
            "regimes",
            f"unknown regime {quote(bad[0], 60)}{did_you_mean(bad[0], known)}"
            if bad
            else "an empty list",
            allowed,
        )
    return [known[n] for n in chosen]


def _grouped_text(table: pd.DataFrame) -> str:
    """A (regime, strategy) x (group, column) table as aligned text: two header lines, the
    regime named on its first row only, numbers right-aligned."""
    columns: list[tuple[str, str]] = [(str(c[0]), str(c[1])) for c in table.columns]
    header_top = ["", ""]
    header = ["regime", "strategy"]
    groups = [g for g, _ in columns]
    header_top += [g if i == 0 or groups[i - 1] != g else "" for i, g in enumerate(groups)]
    header += [c for _, c in columns]
    rows = []
    last = None
    for (regime, strategy), values in zip(
        table.index, table.itertuples(index=False, name=None), strict=True
    ):
        cells = [str(regime) if regime != last else "", str(strategy)]
        last = regime
        cells += [_cell(c, v) for (_, c), v in zip(columns, values, strict=True)]
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    # A group's label spans its columns; widen the last one if the label is longer.
    spans: dict[str, list[int]] = {}
    for i, g in enumerate(groups, start=2):
        spans.setdefault(g, []).append(i)
    for g, idx in spans.items():
        span = sum(widths[i] for i in idx) + 2 * (len(idx) - 1)
        if len(g) > span:
            widths[idx[-1]] += len(g) - span

    def line(cells: Sequence[str], top: bool = False) -> str:
        out = []
        i = 0
        while i < len(cells):
            if top and i >= 2 and cells[i]:
                idx = spans[cells[i]]
                span = sum(widths[j] for j in idx) + 2 * (len(idx) - 1)
                out.append(cells[i].rjust(span))
                i += len(idx)
                continue
            w = widths[i]
            out.append(cells[i].ljust(w) if i < 2 else cells[i].rjust(w))
            i += 1
        return "  ".join(out).rstrip()

    return "\n".join([line(header_top, top=True), line(header), *(line(r) for r in rows)])


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if column.startswith("vs "):
        return _pct(float(value))  # type: ignore[arg-type]
    if column == "kmaps/Mc":
        return f"{float(value):,.1f}"  # type: ignore[arg-type]
    if column.endswith("CPUs"):  # stale accesses
        return f"{int(value):,d}"  # type: ignore[call-overload]
    return f"{float(value):.1f}"  # type: ignore[arg-type]
