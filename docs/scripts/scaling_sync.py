"""Throughput and where the cycles go, for the 2.4 design on the 2001 preset, 1 to 64 CPUs.

Run: ``python docs/scripts/scaling_sync.py`` (prints the Markdown table used in the README).
"""

from __future__ import annotations

import time

import kmapsim

CYCLES = 50_000_000
SHOWN = ["work", "copy", "kmap_spin", "kmap_locked", "irqoff_spin", "flush_scan", "ipi_wait"]


def main() -> None:
    head = ["CPUs", "kmaps/Mcycle", "per CPU", "flushes", "p99 lock wait"]
    print("| " + " | ".join(head + [f"{c} %" for c in SHOWN]) + " |")
    print("|" + "---|" * (len(head) + len(SHOWN)))
    start = time.perf_counter()
    for cpus in (1, 2, 4, 8, 16, 32, 64):
        sc = kmapsim.Scenario.preset("pIII-8way-2001", cpus=cpus)
        r = kmapsim.run(sc, cycles=CYCLES, seed=1)
        share = r.breakdown.sum() / r.breakdown.to_numpy().sum() * 100
        p99 = r.histograms["kmap_lock_wait"].quantile(0.99)
        cells = [
            str(cpus),
            f"{r.throughput:.1f}",
            f"{r.throughput / cpus:.1f}",
            str(r.counters["flushes"]),
            f"<= {p99:,}",
        ]
        cells += [f"{share[c]:.1f}" for c in SHOWN]
        print("| " + " | ".join(cells) + " |")
    print(f"\n{CYCLES:,} cycles per run, seed 1; {time.perf_counter() - start:.1f} s in all.")


if __name__ == "__main__":
    main()
