"""The 2002 NUMA-Q lockmeter figures for ``kmap_lock``, simulated against published.

The only published lock statistics for ``kmap_lock``: LKML, 18-20 March 2002, "Scalability
problem (kmap_lock) with -aa kernels" (Martin J. Bligh, with Andrea Arcangeli, Rik van Riel and
Hugh Dickins): lockmeter on a 16-way NUMA-Q during a kernel compile, on 2.4.18 mainline and on
2.4.19-pre1-aa1, whose pte-highmem kmapped page tables and held them. The two scenario files
``examples/lockmeter/numaq16-mainline.toml`` and ``examples/lockmeter/numaq16-aa.toml`` stand
for the two kernels on the ``numaq-16way-2002`` preset; each is run for the lockmetered run's
length (about 24 s and 41 s, derived in the research note from the published totals) at seed
1, and its ``kmap_lock`` row of `RunResult.lock_stats` is set beside the published row.

Tolerances (the project's target): UTIL, CON, spin % of CPU and acquisitions per second within a
factor 1.25 either way (0.8 to 1.25 times the published figure); mean HOLD and mean WAIT within a
factor 1.5; the maxima within a factor 2.

Run: ``python docs/scripts/lockmeter.py`` prints the Markdown tables; ``--check`` exits with
status 1 if any figure is out of tolerance; ``--questions`` adds the thread's own questions (the
other strategies and allocators on the same machine and workloads); ``--seeds N`` repeats the
comparison over seeds 1..N and reports the spread.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import kmapsim

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    "2.4.18 mainline": ROOT / "examples" / "lockmeter" / "numaq16-mainline.toml",
    "2.4.19-pre1-aa1": ROOT / "examples" / "lockmeter" / "numaq16-aa.toml",
}
#: The lockmetered runs' lengths in seconds (the research note derives them from the totals:
#: spin time = acquisitions x CON x mean WAIT = spin share x 16 CPUs x T).
SECONDS = {"2.4.18 mainline": 24.0, "2.4.19-pre1-aa1": 41.0}
#: The published kmap_lock rows, in lock_stats' columns (acquisitions as a rate).
PUBLISHED = {
    "2.4.18 mainline": dict(
        util_pct=1.6,
        contended_pct=2.7,
        hold_mean_us=0.5,
        hold_max_us=4208.0,
        wait_mean_us=28.0,
        wait_max_us=3885.0,
        spin_cpu_pct=0.14,
        acquisitions_per_s=716_044 / 24.0,
    ),
    "2.4.19-pre1-aa1": dict(
        util_pct=33.4,
        contended_pct=63.5,
        hold_mean_us=5.4,
        hold_max_us=7893.0,
        wait_mean_us=155.0,
        wait_max_us=16_000.0,
        spin_cpu_pct=37.8,
        acquisitions_per_s=2_551_814 / 41.0,
    ),
}
#: Allowed ratio simulated / published, both ways.
TOLERANCE = {
    "util_pct": 1.25,
    "contended_pct": 1.25,
    "spin_cpu_pct": 1.25,
    "acquisitions_per_s": 1.25,
    "hold_mean_us": 1.5,
    "wait_mean_us": 1.5,
    "hold_max_us": 2.0,
    "wait_max_us": 2.0,
}
LABELS = {
    "util_pct": "UTIL %",
    "contended_pct": "CON %",
    "hold_mean_us": "HOLD mean, us",
    "hold_max_us": "HOLD max, us",
    "wait_mean_us": "WAIT mean, us",
    "wait_max_us": "WAIT max, us",
    "spin_cpu_pct": "spin, % of CPU",
    "acquisitions_per_s": "acquisitions per s",
}
SEED = 1


@dataclass(frozen=True)
class Comparison:
    kernel: str
    simulated: dict[str, float]
    seconds: float  # wall-clock time of the run

    def ratio(self, figure: str) -> float:
        return self.simulated[figure] / PUBLISHED[self.kernel][figure]

    def within(self, figure: str) -> bool:
        r = self.ratio(figure)
        return r > 0 and abs(math.log(r)) <= math.log(TOLERANCE[figure]) + 1e-12


def scenario(kernel: str, **changes: object) -> kmapsim.Scenario:
    """The scenario file of ``kernel``, with ``changes`` on top."""
    sc = kmapsim.Scenario.from_file(FILES[kernel])
    return sc.replace(**changes) if changes else sc  # type: ignore[arg-type]


def kmap_lock_row(sc: kmapsim.Scenario, kernel: str, seed: int) -> tuple[dict[str, float], float]:
    cycles = int(SECONDS[kernel] * sc.cpu_mhz * 1e6)
    start = time.perf_counter()
    r = kmapsim.run(sc, cycles=cycles, seed=seed)
    row = r.lock_stats.loc["kmap_lock"]
    return {k: float(row[k]) for k in PUBLISHED[kernel]}, time.perf_counter() - start


def compare(kernel: str, seed: int = SEED) -> Comparison:
    sim, wall = kmap_lock_row(scenario(kernel), kernel, seed)
    return Comparison(kernel, sim, wall)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def table(results: list[Comparison]) -> str:
    """Published beside simulated, one block of rows per kernel."""
    lines = [
        "| kernel | figure | published | simulated | ratio | tolerance | within |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in results:
        for k in PUBLISHED[c.kernel]:
            tol = TOLERANCE[k]
            band = f"x{tol:g}"
            lines.append(
                f"| {c.kernel} | {LABELS[k]} | {_fmt(PUBLISHED[c.kernel][k])} |"
                f" {_fmt(c.simulated[k])} | {c.ratio(k):.2f} | {band} |"
                f" {'yes' if c.within(k) else '**no**'} |"
            )
    return "\n".join(lines)


#: The thread's questions: what the same machine and workloads give under each design.
DESIGNS = {
    "sync (2.4, as measured)": {},
    "sync, flush free of cache-line costs": {"flush_clear_slot_cycles": 0, "flush_slot_cycles": 6},
    "async": {"strategy": "async"},
    "guarded": {"strategy": "guarded"},
    "lazy": {"strategy": "lazy"},
    "split (Bligh's proposal in the thread)": {"strategy": "split"},
    "sync + freelist": {"slot_alloc": "freelist"},
    "local (no pool)": {"strategy": "local"},
}


def questions(seed: int = SEED) -> str:
    """kmap_lock's UTIL, CON, mean WAIT, spin share and the kmap rate under each design."""
    lines = [
        "| kernel | design | UTIL % | CON % | WAIT mean, us | spin, % of CPU | kmaps per s"
        " | stale accesses |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kernel in FILES:
        for design, changes in DESIGNS.items():
            sc = scenario(kernel, **changes)
            cycles = int(SECONDS[kernel] * sc.cpu_mhz * 1e6)
            r = kmapsim.run(sc, cycles=cycles, seed=seed)
            row = r.lock_stats.loc["kmap_lock"]
            lines.append(
                f"| {kernel} | {design} | {row['util_pct']:.2f} | {row['contended_pct']:.1f} |"
                f" {row['wait_mean_us']:.1f} | {row['spin_cpu_pct']:.2f} |"
                f" {r.kmaps_per_second:,.0f} | {r.counters['stale_accesses']:,} |"
            )
    return "\n".join(lines)


def spread(seeds: int) -> str:
    """Each figure's ratio to the published one over seeds 1..N: min and max."""
    lines = [
        "| kernel | figure | ratio min | ratio max | within in all |",
        "|---|---|---:|---:|---|",
    ]
    for kernel in FILES:
        runs = [compare(kernel, s) for s in range(1, seeds + 1)]
        for k in PUBLISHED[kernel]:
            ratios = [c.ratio(k) for c in runs]
            ok = all(c.within(k) for c in runs)
            lines.append(
                f"| {kernel} | {LABELS[k]} | {min(ratios):.2f} | {max(ratios):.2f} |"
                f" {'yes' if ok else '**no**'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 past any tolerance")
    parser.add_argument("--questions", action="store_true", help="also run the other designs")
    parser.add_argument("--seeds", type=int, default=0, help="also report seeds 1..N")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = [compare(k) for k in FILES]
    print(table(results))
    if args.seeds:
        print()
        print(spread(args.seeds))
    if args.questions:
        print()
        print(questions())
    print(f"\n(seed {SEED}; {time.perf_counter() - start:.1f} s in all)")
    bad = [(c.kernel, LABELS[k]) for c in results for k in PUBLISHED[c.kernel] if not c.within(k)]
    if args.check and bad:
        print("out of tolerance: " + ", ".join(f"{k}: {f}" for k, f in bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
