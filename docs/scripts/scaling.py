"""Scaling of every strategy on the 2001 preset, and the seed mail's diagnosis put to the test.

Run: ``python docs/scripts/scaling.py`` (about a minute). Prints the Markdown used in
docs/validation.md, section "Scaling".
"""

from __future__ import annotations

import argparse
import statistics
import time

import kmapsim
from kmapsim import Scenario

STRATEGIES = ["sync", "async", "guarded", "lazy", "targeted", "local"]
CPUS = [1, 2, 4, 8, 16, 32, 64]
SHOWN = [
    "work",
    "copy",
    "kmap_spin",
    "kmap_locked",
    "flush_scan",
    "ipi_wait",
    "local_flush",
    "ipi_handler",
    "irqoff_spin",
]
#: The cycles a CPU spends in the flush while it holds kmap_lock (under sync and targeted).
FLUSH_UNDER_LOCK = ["flush_scan", "call_lock_spin", "ipi_send", "ipi_wait", "local_flush"]


def throughput_table(cycles: int, seeds: int) -> None:
    print(f"### Throughput (kmaps per million cycles, mean of {seeds} seeds, {cycles:,} cycles)\n")
    print("| CPUs | " + " | ".join(STRATEGIES) + " |")
    print("|---|" + "---|" * len(STRATEGIES))
    for cpus in CPUS:
        cells = []
        for s in STRATEGIES:
            sc = Scenario.preset("pIII-8way-2001", cpus=cpus, strategy=s)
            runs = [kmapsim.run(sc, cycles=cycles, seed=seed).throughput for seed in range(seeds)]
            cells.append(f"{statistics.mean(runs):.0f}")
        print(f"| {cpus} | " + " | ".join(cells) + " |")


def breakdown_table(cycles: int, cpus: int) -> None:
    print(f"\n### Where the cycles go at {cpus} CPUs (% of all CPU cycles, seed 0)\n")
    print("| strategy | " + " | ".join(SHOWN) + " |")
    print("|---|" + "---|" * len(SHOWN))
    for s in STRATEGIES:
        r = kmapsim.run(Scenario.preset("pIII-8way-2001", cpus=cpus, strategy=s), cycles=cycles)
        share = r.breakdown.sum() / r.breakdown.to_numpy().sum() * 100
        print(f"| {s} | " + " | ".join(f"{share[c]:.1f}" for c in SHOWN) + " |")


def flush_share(sc: Scenario, cycles: int) -> tuple[float, float]:
    """Share of kmap_lock hold time spent in the flush, and of all cycles spinning on the lock."""
    r = kmapsim.run(sc, cycles=cycles, seed=1)
    in_flush = int(r.breakdown[FLUSH_UNDER_LOCK].to_numpy().sum())
    hold = r.histograms["kmap_lock_hold"].sum
    spin = r.breakdown["kmap_spin"].sum() / r.breakdown.to_numpy().sum()
    return (in_flush / hold if hold else 0.0), float(spin)


def regime_maps(cycles: int) -> None:
    """The seed mail: is kmap_lock contention caused by the flush done under the lock?"""
    holds = [0, 1000, 3000, 10000, 30000]
    print("\n### The seed mail's diagnosis under `sync`\n")
    print("Each cell: share of kmap_lock hold time spent inside the flush / share of all CPU")
    print("cycles spent spinning on kmap_lock. Rows: mean interrupts-off hold (0 = no such")
    print("sections). Other fields as in the preset unless the table says otherwise.\n")

    def table(title: str, col_name: str, cols: list[object], make: object) -> None:
        print(f"#### {title}\n")
        print(f"| irq-off hold \\ {col_name} | " + " | ".join(str(c) for c in cols) + " |")
        print("|---|" + "---|" * len(cols))
        for h in holds:
            cells = []
            for c in cols:
                sc = make(h, c)  # type: ignore[operator]
                f, s = flush_share(sc, cycles)
                cells.append(f"{100 * f:.0f}% / {100 * s:.1f}%")
            print(f"| {h} | " + " | ".join(cells) + " |")
        print()

    def base(h: int, **kw: object) -> Scenario:
        irq = {"irq_section_prob": 0.0} if h == 0 else {"irq_hold_cycles": h}
        return Scenario.preset("pIII-8way-2001", **irq, **kw)

    table(
        "CPU count (preset kmap rate and sharing)",
        "CPUs",
        [8, 16, 32, 64],
        lambda h, c: base(h, cpus=c),
    )
    table(
        "kmap rate at 8 CPUs (mean work between kmaps, cycles)",
        "work",
        [2000, 5000, 15000, 60000],
        lambda h, w: base(h, cpus=8, work_cycles=w),
    )
    table(
        "new-mapping share at 8 CPUs (probability a kmap hits the 256 shared pages)",
        "shared_page_prob",
        [0.0, 0.25, 0.75, 0.95],
        lambda h, p: base(h, cpus=8, shared_page_prob=p),
    )
    table(
        "pool size at 8 CPUs, 2000-cycle work (LAST_PKMAP: 1024 without PAE, 512 with)",
        "last_pkmap",
        [64, 256, 512, 1024],
        lambda h, n: base(h, cpus=8, work_cycles=2000, last_pkmap=n),
    )


def flush_bound_corner(cycles: int) -> None:
    """Where the flush dominates the lock under sync, do the alternatives help?"""
    corner = {"cpus": 8, "work_cycles": 2000, "last_pkmap": 64, "irq_hold_cycles": 30000}
    print(f"### Strategies in the flush-bound corner ({corner}, seed 1)\n")
    cols = ["kmaps/Mcycle", "flush share of hold", "kmap_spin %", "mean hold", "stale reads"]
    print("| strategy | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for s in STRATEGIES:
        sc = Scenario.preset("pIII-8way-2001", strategy=s, **corner)  # type: ignore[arg-type]
        r = kmapsim.run(sc, cycles=cycles, seed=1)
        f, spin = flush_share(sc, cycles)
        hold = r.histograms["kmap_lock_hold"]
        cells = [
            f"{r.throughput:.0f}",
            f"{100 * f:.0f}%",
            f"{100 * spin:.1f}",
            f"{hold.mean:.0f}" if hold.count else "-",
            str(r.counters["stale_accesses"]),
        ]
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="shorter runs, one seed")
    args = ap.parse_args()
    cycles = 5_000_000 if args.quick else 20_000_000
    start = time.perf_counter()
    throughput_table(cycles, 1 if args.quick else 3)
    breakdown_table(cycles, 64)
    regime_maps(cycles)
    flush_bound_corner(cycles)
    print(f"(script time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
