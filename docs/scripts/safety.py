"""Which strategies ever read a stale TLB entry, and the shortest counterexample for those that do.

Run: ``python docs/scripts/safety.py`` (about a minute; ``--quick`` for a smaller grid).
Prints the Markdown used in docs/validation.md, section "Safety".
"""

from __future__ import annotations

import argparse
import itertools
import time

import kmapsim
from kmapsim import Scenario

STRATEGIES = ["sync", "async", "guarded", "lazy", "targeted", "local"]
LATENCIES = [1, 100, 700, 1400, 3000, 10000]
CPUS = [2, 8, 32]
#: (TLB entries, unrelated evictions per 1000 work cycles): small, the preset's, never evicted.
TLBS = [(4, 0.5), (32, 0.5), (32, 0.0)]
Key = tuple[str, int, int, tuple[int, float], int]
POOLS = [8, 32, 1024]

#: The counterexample search: two CPUs, a tiny pool, fixed durations, a few shared pages.
SEARCH_BASE = Scenario(
    cpus=2,
    pages=16,
    hot_pages=2,
    shared_page_prob=0.5,
    work_dist="fixed",
    irq_section_prob=0.0,
    ctx_switch_prob=0.0,
    tlb_evict_rate=0.0,
    copy_lookups=2,
    strategy="async",
)


def grid(cycles: int) -> dict[Key, int]:
    """Stale accesses of each strategy on the 2001 preset across latency, CPUs, TLB and pool."""
    out = {}
    for strategy, lat, cpus, tlb, pool in itertools.product(
        STRATEGIES, LATENCIES, CPUS, TLBS, POOLS
    ):
        sc = Scenario.preset(
            "pIII-8way-2001",
            strategy=strategy,
            ipi_latency=lat,
            cpus=cpus,
            tlb_entries=tlb[0],
            tlb_evict_rate=tlb[1],
            last_pkmap=pool,
        )
        r = kmapsim.run(sc, cycles=cycles, seed=1)
        out[strategy, lat, cpus, tlb, pool] = r.counters["stale_accesses"]
    return out


def search_counterexample(seeds: int = 64) -> tuple[Scenario, int, kmapsim.StaleAccess]:
    """The (scenario, seed) whose first stale access comes earliest, over a small space."""
    best: tuple[Scenario, int, kmapsim.StaleAccess] | None = None
    for pool, work, lat, seed in itertools.product(
        [2, 4], [200, 1000, 3000], [500, 1000, 2000, 4000], range(seeds)
    ):
        sc = SEARCH_BASE.replace(last_pkmap=pool, work_cycles=work, ipi_latency=lat)
        horizon = best[2].cycle + 1 if best else 200_000
        r = kmapsim.run(sc, cycles=horizon, seed=seed)
        if r.violations and (best is None or r.violations[0].cycle < best[2].cycle):
            best = (sc, seed, r.violations[0])
    assert best is not None, "no counterexample in the search space"
    return best


def latency_threshold(sc: Scenario, seeds: int = 16) -> list[tuple[int, int, int]]:
    """For the counterexample's machine: stale reads and failing runs per IPI latency, over
    ``seeds`` seeds with fixed and with exponential work, 2M cycles each."""
    out = []
    for lat in [300, 500, 600, 700, 800, 900, 1000, 2000, 4000]:
        total = failing = 0
        for seed in range(seeds):
            for dist in ("fixed", "exponential"):
                r = kmapsim.run(
                    sc.replace(ipi_latency=lat, work_dist=dist), cycles=2_000_000, seed=seed
                )
                total += r.counters["stale_accesses"]
                failing += r.counters["stale_accesses"] > 0
        out.append((lat, failing, total))
    return out


def narrate(sc: Scenario, seed: int, v: kmapsim.StaleAccess) -> str:
    """The counterexample cycle by cycle, up to the stale read (state changes left out)."""
    r = kmapsim.run(sc, cycles=v.cycle + 1, seed=seed, trace=1_000_000)
    ev = r.trace[r.trace.event != "state"]
    lines = [
        f"{row.cycle:>7}  cpu{row.cpu}  {row.event:<14} {row.detail}" for row in ev.itertuples()
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="5M cycles per grid point, not 20M")
    args = ap.parse_args()
    cycles = 5_000_000 if args.quick else 20_000_000
    start = time.perf_counter()
    g = grid(cycles)
    n = len(g) // len(STRATEGIES)
    print(f"### Verdicts ({n} configurations per strategy, {cycles:,} cycles each, seed 1)\n")
    print(
        "| strategy | configurations with a stale access | stale accesses in all "
        "| lowest IPI latency with one |"
    )
    print("|---|---|---|---|")
    for s in STRATEGIES:
        hits = [k for k, v in g.items() if k[0] == s and v]
        total = sum(v for k, v in g.items() if k[0] == s)
        low = min((k[1] for k in hits), default=None)
        print(f"| {s} | {len(hits)} of {n} | {total} | {'-' if low is None else low} |")
    for tlb in TLBS:
        print(
            f"\n### async: stale accesses by IPI latency, CPUs and pool ({tlb[0]}-entry TLB "
            f"share, {tlb[1]} unrelated evictions per 1000 work cycles)\n"
        )
        print(
            "| latency (cycles) | "
            + " | ".join(f"{c} CPUs, {p} slots" for c in CPUS for p in POOLS)
            + " |"
        )
        print("|---|" + "---|" * (len(CPUS) * len(POOLS)))
        for lat in LATENCIES:
            cells = [str(g["async", lat, c, tlb, p]) for c in CPUS for p in POOLS]
            print(f"| {lat} | " + " | ".join(cells) + " |")
    sc, seed, v = search_counterexample()
    changed = {k: val for k, val in sc.to_dict().items() if val != Scenario().to_dict()[k]}
    print("\n### The shortest counterexample found\n")
    print(f"Scenario fields (others at their defaults): `{changed}`, seed {seed}.")
    print(f"First stale access: {v}\n")
    print("```text\n" + narrate(sc, seed, v) + "\n```")
    print("\n### How slow must the IPI be? (the counterexample's machine, 32 runs per latency)\n")
    print("| IPI latency (cycles) | runs with a stale read | stale reads |")
    print("|---|---|---|")
    for lat, failing, total in latency_threshold(sc):
        print(f"| {lat} | {failing} of 32 | {total} |")
    print(f"\n(script time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
