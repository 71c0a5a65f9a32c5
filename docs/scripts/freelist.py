"""Freelist against the 2.4 linear scan as the pkmap pool fills up.

Run: ``python docs/scripts/freelist.py`` (a few seconds). Prints the Markdown used in
docs/validation.md, section "Freelist against scan".

Two ways to fill the pool: (1) mappings held for a long time (long copies) by as many CPUs as
the pool has slots, which the wrap flush cannot clear; (2) a hot set of shared pages that most
kmaps hit, whose slots sit at count >= 1 until the next flush. The scan must step over occupied
slots; the freelist pops a free one in O(1) and clears only its dirty list at the flush.
"""

from __future__ import annotations

import argparse
import time

import kmapsim
from kmapsim import Scenario

POOL = 256
HOT = [0, 64, 128, 192, 224, 240]
HELD_POOL = 64
HOLDERS = [4, 16, 32, 48, 56, 62]
COLS = [
    "kmaps/Mcycle",
    "mean hold",
    "p99 hold <=",
    "slots examined per new map",
    "flushes",
    "sleeps",
]


def row(sc: Scenario, cycles: int) -> list[str]:
    r = kmapsim.run(sc, cycles=cycles, seed=1)
    c = r.counters
    hold = r.histograms["kmap_lock_hold"]
    per_new = c["slots_examined"] / c["new_mappings"] if c["new_mappings"] else 0.0
    return [
        f"{r.throughput:.0f}",
        f"{hold.mean:.0f}",
        f"{hold.quantile(0.99):,}",
        f"{per_new:.2f}",
        f"{c['flushes']:,}",
        f"{c['sleeps']:,}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="5M cycles per point, not 20M")
    args = ap.parse_args()
    cycles = 5_000_000 if args.quick else 20_000_000
    start = time.perf_counter()
    head = "|---|---|" + "---|" * len(COLS)

    print(f"#### Held mappings: a {HELD_POOL}-slot pool, one CPU per holder, 20000-cycle copies\n")
    print(f"`sync`, no shared pages, 2000-cycle work, {cycles:,} cycles, seed 1.\n")
    print("| CPUs (of the pool) | allocator | " + " | ".join(COLS) + " |\n" + head)
    for cpus in HOLDERS:
        for alloc in ("scan", "freelist"):
            sc = Scenario.preset(
                "pIII-8way-2001",
                cpus=cpus,
                last_pkmap=HELD_POOL,
                hot_pages=0,
                shared_page_prob=0.0,
                work_cycles=2000,
                copy_cycles=20000,
                slot_alloc=alloc,
            )
            pct = 100 * cpus // HELD_POOL
            print(f"| {cpus} ({pct}%) | {alloc} | " + " | ".join(row(sc, cycles)) + " |")

    print(f"\n#### A hot set: a {POOL}-slot pool, 16 CPUs\n")
    print(f"`sync`, 90% of kmaps to the hot set, 2000-cycle work, {cycles:,} cycles, seed 1.\n")
    print("| hot pages (of the pool) | allocator | " + " | ".join(COLS) + " |\n" + head)
    for hot in HOT:
        for alloc in ("scan", "freelist"):
            sc = Scenario.preset(
                "pIII-8way-2001",
                cpus=16,
                last_pkmap=POOL,
                hot_pages=hot,
                shared_page_prob=0.9 if hot else 0.0,
                work_cycles=2000,
                slot_alloc=alloc,
            )
            pct = 100 * hot // POOL
            print(f"| {hot} ({pct}%) | {alloc} | " + " | ".join(row(sc, cycles)) + " |")
    print(
        f"\nHold times are kmap_lock hold cycles. (script time {time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
