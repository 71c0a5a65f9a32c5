"""Lock statistics in lockmeter's terms: `RunResult.lock_stats` and ``kmapsim run --locks``.

The engine keeps, for every spinlock it models (``kmap_lock``, ``call_lock`` and each
interrupts-off lock ``irq_lock[k]``), exact sums of acquisitions, contended acquisitions, hold
and wait cycles, and the longest hold and wait (the core's ``LockStat``), and derives the
figures from them once, in Rust. This module only puts them in a frame and converts cycles to
microseconds at the scenario's ``cpu_mhz``. The definitions are lockmeter's (R. Bryant and
J. Hawkes, "Lockmeter: Highly-Informative Instrumentation for Spin Locks in the Linux Kernel",
ALS 2000), as docs/model.md section 9 states them:

- UTIL (``util_pct``): the share of the run's time the lock is held;
- CON (``contended_pct``): the share of acquisitions that had to spin;
- HOLD (``hold_mean_us``, ``hold_max_us``): from ``spin_lock()`` returning to ``spin_unlock()``;
- WAIT (``wait_mean_us``, ``wait_max_us``): from the request to ``spin_lock()`` returning, per
  contended acquisition;
- spin (``spin_cpu_pct``): all CPUs' waiting for the lock (spinning, the hand-off, and any IPI
  handler taken while spinning) as a share of all CPUs' time.

A hold or wait still running when the run ends counts in UTIL, the spin share and the maxima (it
has lasted at least that long), not in the counts and means, which are over completed ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kmapsim.runner import MAX_CYCLES, _int_arg
from kmapsim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LOCKMETER_FIGURES",
    "LOCK_STAT_COLUMNS",
    "RAW_KEYS",
    "lock_stat_rows",
    "lock_stats_frame",
    "lockmeter_text",
]

#: The exact sums the engine reports per lock (besides its name and the derived figures).
RAW_KEYS = (
    "acquisitions",
    "contended",
    "releases",
    "hold_sum",
    "hold_max",
    "wait_sum",
    "wait_max",
    "open_hold",
    "open_wait",
    "open_wait_max",
)
#: The figures the engine derives from them (``LockStat::figures``), in cycles and percent.
FIGURE_KEYS = (
    "contended_pct",
    "util_pct",
    "hold_mean_cycles",
    "hold_max_cycles",
    "wait_mean_cycles",
    "wait_max_cycles",
    "spin_cpu_pct",
)

#: lockmeter's figures of one lock (UTIL, CON, HOLD, WAIT, spin share, rate): what a sweep row
#: carries for ``kmap_lock`` and what docs/scripts/lockmeter.py compares.
LOCKMETER_FIGURES = (
    "contended_pct",
    "util_pct",
    "hold_mean_us",
    "hold_max_us",
    "wait_mean_us",
    "wait_max_us",
    "spin_cpu_pct",
    "acquisitions_per_s",
)

#: The columns of `RunResult.lock_stats`, after its index ``lock``.
LOCK_STAT_COLUMNS = (
    "acquisitions",
    "contended",
    *LOCKMETER_FIGURES,
    "hold_mean_cycles",
    "hold_max_cycles",
    "wait_mean_cycles",
    "wait_max_cycles",
)


def _checked(cycles: object, cpu_mhz: object) -> tuple[int, float]:
    """``cycles`` and ``cpu_mhz`` as a run has them, or the ScenarioError naming the bad one
    (``cpu_mhz`` is checked as the scenario field it comes from)."""
    mhz = Scenario(cpu_mhz=cpu_mhz).cpu_mhz  # type: ignore[arg-type]
    return _int_arg("cycles", cycles, 0, MAX_CYCLES), mhz


def lock_stat_rows(
    rows: Sequence[Mapping[str, Any]], cycles: int, cpu_mhz: float
) -> list[dict[str, Any]]:
    """One dict per lock with the `LOCK_STAT_COLUMNS` (and ``lock``), from the engine's dicts.

    Microseconds are cycles / ``cpu_mhz``; ``acquisitions_per_s`` is per simulated second (0 for
    a run of no cycle). Raises `ScenarioError` for a ``cycles`` that is not an integer in [0,
    MAX_CYCLES] or a ``cpu_mhz`` out of the scenario field's range (a bool is neither).
    """
    cycles, cpu_mhz = _checked(cycles, cpu_mhz)
    seconds = cycles / (cpu_mhz * 1e6)
    out = []
    for r in rows:
        out.append(
            {
                "lock": str(r["lock"]),
                "acquisitions": int(r["acquisitions"]),
                "contended": int(r["contended"]),
                "contended_pct": float(r["contended_pct"]),
                "util_pct": float(r["util_pct"]),
                "hold_mean_us": float(r["hold_mean_cycles"]) / cpu_mhz,
                "hold_max_us": float(r["hold_max_cycles"]) / cpu_mhz,
                "wait_mean_us": float(r["wait_mean_cycles"]) / cpu_mhz,
                "wait_max_us": float(r["wait_max_cycles"]) / cpu_mhz,
                "spin_cpu_pct": float(r["spin_cpu_pct"]),
                "acquisitions_per_s": int(r["acquisitions"]) / seconds if seconds > 0 else 0.0,
                "hold_mean_cycles": float(r["hold_mean_cycles"]),
                "hold_max_cycles": int(r["hold_max_cycles"]),
                "wait_mean_cycles": float(r["wait_mean_cycles"]),
                "wait_max_cycles": int(r["wait_max_cycles"]),
            }
        )
    return out


def lock_stats_frame(
    rows: Sequence[Mapping[str, Any]], cycles: int, cpu_mhz: float
) -> pd.DataFrame:
    """`lock_stat_rows` as a DataFrame indexed by ``lock``, in the engine's lock order."""
    import pandas as pd

    frame = pd.DataFrame(
        lock_stat_rows(rows, cycles, cpu_mhz), columns=["lock", *LOCK_STAT_COLUMNS]
    )
    return frame.set_index("lock")


def _us(v: float) -> str:
    """A time in lockmeter's style: 0.5us, 28us, 4208us."""
    return f"{v:.1f}us" if v < 10 else f"{v:.0f}us"


def lockmeter_text(rows: Sequence[Mapping[str, Any]], cycles: int, cpu_mhz: float) -> str:
    """The locks in lockmeter's layout (one line per lock that was ever taken):

    ``UTIL CON HOLD MEAN(MAX) WAIT MEAN(MAX)(%CPU) TOTAL NOWAIT SPIN NAME``.
    """
    head = (
        f"{'SPINLOCKS':<12}{'HOLD':>20}{'WAIT':>28}\n"
        f"{'UTIL':>6} {'CON':>6} {'MEAN(MAX)':>20} {'MEAN(MAX)(%CPU)':>27}"
        f" {'TOTAL':>11} {'NOWAIT':>7} {'SPIN':>6}  NAME"
    )
    lines = [head]
    cycles, cpu_mhz = _checked(cycles, cpu_mhz)
    for r in lock_stat_rows(rows, cycles, cpu_mhz):
        if r["acquisitions"] == 0 and r["util_pct"] == 0 and r["spin_cpu_pct"] == 0:
            continue
        hold = f"{_us(r['hold_mean_us'])}({_us(r['hold_max_us'])})"
        wait = f"{_us(r['wait_mean_us'])}({_us(r['wait_max_us'])})({r['spin_cpu_pct']:.2f}%)"
        con = r["contended_pct"]
        lines.append(
            f"{r['util_pct']:5.1f}% {con:5.1f}% {hold:>20} {wait:>27}"
            f" {r['acquisitions']:>11,} {100 - con:6.1f}% {con:5.1f}%  {r['lock']}"
        )
    if len(lines) == 1:
        lines.append("(no lock was taken or awaited)")
    seconds = cycles / (cpu_mhz * 1e6)
    lines.append(
        f"{cycles:,} cycle{'' if cycles == 1 else 's'} = {seconds:.6g} s at {cpu_mhz:g} MHz;"
        " holds and waits still open at the end count in UTIL, the spin share and MAX"
    )
    return "\n".join(lines)
