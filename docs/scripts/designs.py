"""The shootdown designs since 2001, each beside the published figure closest to it.

Run: ``python docs/scripts/designs.py`` (a few seconds; ``--quick`` for shorter runs).
Prints the Markdown of docs/validation.md, section g. Seed 1 throughout.

1. ``lazy`` with its catch-up outside ``kmap_lock`` against ``sync`` on ``modern-64core``
   (LATR, ASPLOS 2018: munmap latency -70.8 %);
2. ``broadcast`` (hardware broadcast invalidation) in the flush-bound corner of section b, over a
   range of its assumed cost, and under the 2024 interrupts-off ``kmap_lock`` misuse;
3. ``concurrent`` and ``early-ack``: the shootdown latency with 1 and 3 remote CPUs on
   ``modern-64core`` (Amit, LKML 2019: -14 % and -10 %);
4. ``ranged`` on the NUMA-Q ``-aa`` workload of section f, with the collateral TLB refill on;
5. ``defer`` against ``sync`` on the default preset: the shootdown IPIs (migrc: -91 %);
6. ``split`` (Bligh's split pool) against ``sync`` in the flush-bound corner and on the NUMA-Q
   ``-aa`` workload of the 2002 thread it was proposed in, and under the 2024 misuse;
7. the safety regime of section c: stale reads under every design.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from safety import SEARCH_BASE

import kmapsim
from kmapsim import Scenario

ROOT = Path(__file__).resolve().parents[2]
NEW = ["broadcast", "concurrent", "early-ack", "ranged", "defer", "split"]
#: The flush-bound corner of docs/validation.md section b (and README).
CORNER = {"cpus": 8, "work_cycles": 2000, "last_pkmap": 64, "irq_hold_cycles": 30000}
#: A quiet machine for shootdown latencies: no interrupts-off section, spaced-out fixed work,
#: a small pool of cold pages so that flushes are frequent (as docs/scripts/calibration.py).
QUIET = {
    "irq_section_prob": 0.0,
    "ctx_switch_prob": 0.0,
    "work_dist": "fixed",
    "work_cycles": 50_000,
    "last_pkmap": 64,
    "pages": 4096,
    "hot_pages": 0,
}
FLUSH_UNDER_LOCK = ["flush_scan", "call_lock_spin", "ipi_send", "ipi_wait", "local_flush"]


def lazy_vs_sync(cycles: int) -> None:
    print("### 1. `lazy` outside the lock against `sync` (`modern-64core`)\n")
    print("LATR (ASPLOS 2018), lazy IPI-free shootdown: munmap latency -70.8 %, Apache +59.9 %.\n")
    print("| CPUs | sync kmaps/Mcycle | lazy kmaps/Mcycle | lazy vs sync | lazy stale reads |")
    print("|---|---|---|---|---|")
    for cpus in (16, 32, 64):
        rate = {}
        stale = 0
        for s in ("sync", "lazy"):
            sc = Scenario.preset("modern-64core", strategy=s, cpus=cpus)
            r = kmapsim.run(sc, cycles=cycles, seed=1)
            rate[s] = r.throughput
            stale = r.counters["stale_accesses"] if s == "lazy" else stale
        change = 100 * (rate["lazy"] - rate["sync"]) / rate["sync"]
        print(f"| {cpus} | {rate['sync']:,.1f} | {rate['lazy']:,.1f} | {change:+.1f} % | {stale} |")
    print()


def flush_share(r: kmapsim.RunResult) -> tuple[float, float]:
    """The flush's share of kmap_lock hold time, and the shootdown's alone (without the loop).
    Under ``split`` the shootdown runs with the lock dropped: only the clearing loop counts."""
    hold = r.histograms["kmap_lock_hold"].sum
    b = r.breakdown.sum()
    loop = float(b["flush_scan"])
    shoot = float(b[FLUSH_UNDER_LOCK].sum()) - loop
    if r.scenario.strategy == "split":
        shoot = 0.0
    return (loop + shoot) / hold, shoot / hold


def broadcast(cycles: int) -> None:
    print("### 2. `broadcast` in the flush-bound corner\n")
    print(f"`pIII-8way-2001` with {CORNER}; the flush's share of `kmap_lock` hold time")
    print("(the clearing loop and the shootdown), and the shootdown's alone.\n")
    print("| strategy | `tlb_broadcast_cycles` | kmaps/Mcycle | flush share | shootdown share |")
    print("|---|---|---|---|---|")
    runs = [("sync", 700)] + [("broadcast", b) for b in (350, 700, 1000, 1500, 3000)]
    for s, cost in runs:
        sc = Scenario.preset("pIII-8way-2001", strategy=s, tlb_broadcast_cycles=cost, **CORNER)
        r = kmapsim.run(sc, cycles=cycles, seed=1)
        whole, shoot = flush_share(r)
        shown = "-" if s == "sync" else f"{cost:,}"
        print(
            f"| {s} | {shown} | {r.throughput:,.0f} | {100 * whole:.1f} % | {100 * shoot:.1f} % |"
        )
    misuse("broadcast")


def misuse(strategy: str) -> None:
    """The 2024 interrupts-off kmap_lock misuse under sync and under ``strategy``."""
    print("\nThe 2024 misuse (`kmap_irqs_off_prob = 1`, 4 CPUs, `pIII-8way-2001`):\n")
    print("| strategy | outcome |")
    print("|---|---|")
    for s in ("sync", strategy):
        sc = Scenario(cpus=4, strategy=s, kmap_irqs_off_prob=1.0)
        try:
            r = kmapsim.run(sc, cycles=50_000_000, seed=1)
            out = f"runs 50,000,000 cycles: {r.kmaps:,} kmaps, {r.counters['ipis_sent']} IPIs"
        except kmapsim.DeadlockError as e:
            out = f"deadlock at cycle {e.cycle:,}"
        print(f"| {s} | {out} |")
    print()


def shootdown(strategy: str, cpus: int, cycles: int, **fields: object) -> int:
    sc = Scenario.preset(
        "modern-64core",
        strategy=strategy,
        cpus=cpus,
        **QUIET,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    h = kmapsim.run(sc, cycles=cycles, seed=1).histograms["shootdown"]
    if h.count == 0 or h.min != h.max:
        raise RuntimeError(f"{strategy} at {cpus} CPUs: shootdowns vary or none ran")
    return h.min


def latencies(cycles: int) -> None:
    print("### 3. `concurrent` and `early-ack`: shootdown latency (`modern-64core`, quiet)\n")
    print("Amit, LKML 2019 (concurrent local and remote flush): 1,436 -> 1,225 ns (-14 %) with")
    print("one remote CPU, 1,571 -> 1,421 ns (-10 %) with three. Cycles at 2.5 GHz.\n")
    print("| remote CPUs | local flush, cycles | sync | concurrent | early-ack | broadcast |")
    print("|---|---|---|---|---|---|")
    for flush in (2300, 530):
        for remote in (1, 3):
            row = {
                s: shootdown(s, remote + 1, cycles, tlb_flush_cycles=flush)
                for s in ("sync", "concurrent", "early-ack", "broadcast")
            }
            base = row["sync"]
            cells = [f"{base:,}"] + [
                f"{row[s]:,} ({100 * (row[s] - base) / base:+.0f} %)"
                for s in ("concurrent", "early-ack", "broadcast")
            ]
            print(f"| {remote} | {flush:,} | " + " | ".join(cells) + " |")
    print()


def ranged(cycles: int) -> None:
    print("### 4. `ranged` on the NUMA-Q `-aa` workload (refill on)\n")
    path = ROOT / "examples" / "lockmeter" / "numaq16-aa.toml"
    base = Scenario.from_file(path)
    print(f"`{path.relative_to(ROOT)}` (`tlb_refill_cycles` = {base.tlb_refill_cycles:,}).\n")
    print("| strategy | ceiling | kmaps per s | UTIL % | full flushes | range flushes |")
    print("|---|---|---|---|---|---|")
    for s, ceiling in (("sync", 33), ("ranged", 33), ("ranged", 64), ("ranged", 1024)):
        sc = base.replace(strategy=s, tlb_flush_ceiling=ceiling)
        r = kmapsim.run(sc, cycles=cycles, seed=1)
        util = r.lock_stats.loc["kmap_lock", "util_pct"]
        shown = "-" if s == "sync" else str(ceiling)
        print(
            f"| {s} | {shown} | {r.kmaps_per_second:,.0f} | {util:.1f} |"
            f" {r.counters['tlb_flushes']:,} | {r.counters['range_flushes']:,} |"
        )
    print()


def defer(cycles: int) -> None:
    print("### 5. `defer` against `sync` (`pIII-8way-2001`)\n")
    print("migrc/LUF (LKML 2024): shootdown interrupts -91 %, runtime -5.7 %.\n")
    print("| allocator | context switch chance | sync IPIs | defer IPIs | change |", end="")
    print(" forced shootdowns | catch-ups at switches | defer vs sync kmaps | defer stale reads |")
    print("|---|---|---|---|---|---|---|---|---|")
    for alloc in ("scan", "freelist"):
        for switch in (0.0, 0.01, 0.1, 1.0):
            runs = {
                s: kmapsim.run(
                    Scenario(strategy=s, slot_alloc=alloc, ctx_switch_prob=switch),
                    cycles=cycles,
                    seed=1,
                )
                for s in ("sync", "defer")
            }
            sync, d = runs["sync"].counters, runs["defer"].counters
            change = 100 * (d["ipis_sent"] - sync["ipis_sent"]) / sync["ipis_sent"]
            kmaps = 100 * (d["kmaps"] - sync["kmaps"]) / sync["kmaps"]
            print(
                f"| {alloc} | {switch} | {sync['ipis_sent']:,} | {d['ipis_sent']:,} |"
                f" {change:+.1f} % | {d['deferred_shootdowns']:,} | {d['gen_flushes']:,} |"
                f" {kmaps:+.2f} % | {d['stale_accesses']} |"
            )
    print()


def split(cycles: int, aa_cycles: int) -> None:
    print("### 6. `split`: Bligh's split pool\n")
    print("Bligh, LKML March 2002 (a proposal, no measurement): take the flush out of `kmap_lock`")
    print("by allocating from one half of the pool while the other half is flushed. His estimate")
    print("of the amortised cost per allocation, about 1 + (1+F)/N for a flush cost F and a pool")
    print("of N slots, becomes 1 + (1+F)/(N/2) of work, of which only the clearing loop of a half")
    print("is under the lock. Flush share: of `kmap_lock` hold time (the clearing loop and, under")
    print("`sync`, the shootdown).\n")
    print("| workload | strategy | kmaps/Mcycle | UTIL % | CON % | flush share |", end="")
    print(" flushes per 1k kmaps | kmaps that slept for the other half |")
    print("|---|---|---|---|---|---|---|---|")
    path = ROOT / "examples" / "lockmeter" / "numaq16-aa.toml"
    setups = [
        ("flush-bound corner", Scenario.preset("pIII-8way-2001", **CORNER), cycles),  # type: ignore[arg-type]
        ("default preset", Scenario(), 5 * cycles),
        (f"`{path.relative_to(ROOT)}`", Scenario.from_file(path), aa_cycles),
    ]
    for name, base, n in setups:
        for s in ("sync", "split"):
            r = kmapsim.run(base.replace(strategy=s), cycles=n, seed=1)
            k = r.counters
            lock = r.lock_stats.loc["kmap_lock"]
            whole, _ = flush_share(r)
            print(
                f"| {name} | {s} | {r.throughput:,.1f} | {lock.util_pct:.1f} |"
                f" {lock.contended_pct:.1f} | {100 * whole:.1f} % |"
                f" {1000 * k['flushes'] / max(k['kmaps'], 1):.1f} | {k['split_waits']:,} |"
            )
    misuse("split")


def safety(cycles: int) -> None:
    print("### 7. Stale reads in the safety regime\n")
    print("The `async` counterexample of section c (2 CPUs, 2 slots, slow IPIs), seeds 0-11:\n")
    sc = SEARCH_BASE.replace(last_pkmap=2, work_cycles=200, ipi_latency=1000)
    print("| strategy | runs with a stale read | stale reads |")
    print("|---|---|---|")
    for s in ["async", "sync", *NEW]:
        counts = [
            kmapsim.run(sc.replace(strategy=s), cycles=cycles, seed=k).counters["stale_accesses"]
            for k in range(12)
        ]
        print(f"| {s} | {sum(c > 0 for c in counts)} of 12 | {sum(counts):,} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    args = ap.parse_args()
    short = 4 if args.quick else 1
    start = time.perf_counter()
    lazy_vs_sync(40_000_000 // short)
    broadcast(20_000_000 // short)
    latencies(40_000_000)
    ranged(int(41 * 700e6) // (8 * short))
    defer(100_000_000 // short)
    split(20_000_000 // short, int(41 * 700e6) // (8 * short))
    safety(2_000_000)
    print(f"(script time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
