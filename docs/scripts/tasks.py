"""Tasks that hold mappings across sleeps: what the first version of the model could not pose.

Run: ``python docs/scripts/tasks.py`` (about ten seconds). Prints the Markdown used in
docs/validation.md, section "Tasks, held mappings and sleeps".

Four experiments on the built-in workloads (docs/model.md, section 16), seed 1:
1. the sleep path at realistic pool sizes (1024 slots, 512 with PAE) under `pte-highmem`;
2. `two-page-copy`: the pool size at which the two-kmap deadlock appears;
3. `irqs-off-access` against `dbench` under `async`, `guarded` and `lazy` at short IPI latencies;
4. pool clogging by pinned page-table kmaps under `pte-highmem`, 1024 against 128 slots.
"""

from __future__ import annotations

import time

import kmapsim
from kmapsim import Scenario

PRESET = "pIII-8way-2001"


def share(r: kmapsim.RunResult, state: str) -> float:
    """The mean fraction of the tasks' time in ``state``."""
    tb = r.task_breakdown
    return float(tb[state].sum()) / float(tb.to_numpy().sum())


def sleep_path() -> None:
    cycles = 100_000_000
    print("#### 1. The sleep path at realistic pool sizes (`pte-highmem`)\n")
    print(f"`{PRESET}` (8 CPUs), `sync`, {cycles:,} cycles, seed 1. Each task holds a private")
    print("page-table page across a block of mean `block_cycles` (1,000,000).\n")
    print("| slots | tasks | kmaps/Mcycle | sleeps | wakeups | tasks' time asleep on the pool |")
    print("|---|---|---|---|---|---|")
    for slots in (1024, 512):
        for tasks in (256, 1024, 2048, 4096):
            sc = Scenario.preset(PRESET, workload="pte-highmem", tasks=tasks, last_pkmap=slots)
            r = kmapsim.run(sc, cycles=cycles, seed=1)
            c = r.counters
            print(
                f"| {slots} | {tasks} | {r.throughput:.1f} | {c['sleeps']:,} | "
                f"{c['wakeups']:,} | {share(r, 'pool_sleep'):.1%} |"
            )
    print()


def two_kmaps() -> None:
    cycles = 200_000_000
    slots = 64
    print("#### 2. The two-kmap deadlock (`two-page-copy`)\n")
    print(f"`{PRESET}` (8 CPUs), a {slots}-slot pool, `sync`, up to {cycles:,} cycles, seed 1;")
    print("each task holds its first mapping across a block, then asks for a second.\n")
    print("| tasks | tasks x 2 | outcome | sleepers holding the pool |")
    print("|---|---|---|---|")
    for tasks in (16, 32, 48, 63, 64, 96):
        sc = Scenario.preset(PRESET, workload="two-page-copy", tasks=tasks, last_pkmap=slots)
        try:
            r = kmapsim.run(sc, cycles=cycles, seed=1)
            outcome = f"runs: {r.counters['kmaps']:,} kmaps, {r.counters['sleeps']:,} sleeps"
            held = "-"
        except kmapsim.DeadlockError as e:
            outcome = f"pool exhausted at cycle {e.cycle:,}"
            held = f"{len(e.sleepers)} tasks, {sum(len(h) for _, h in e.sleepers)} slots"
        print(f"| {tasks} | {2 * tasks} | {outcome} | {held} |")
    print()


def irqs_off() -> None:
    cycles = 20_000_000
    print("#### 3. A page kmapped and touched with interrupts off (`irqs-off-access`)\n")
    print("4 CPUs, 4 slots, 64 pages of which 4 hot (shared with chance 0.5), 300-cycle work,")
    print(f"3000-cycle copies of 6 lookups, no interrupts-off sections, {cycles:,} cycles, seed 1.")
    print("Stale accesses (a lookup that reached another page than the one mapped):\n")
    lat = (25, 100, 400, 1400)
    print("| strategy | workload | " + " | ".join(f"IPI latency {x}" for x in lat) + " |")
    print("|---|---|" + "---|" * len(lat))
    for strategy in ("async", "guarded", "lazy"):
        for workload in ("dbench", "irqs-off-access"):
            cells = []
            for latency in lat:
                sc = Scenario(
                    strategy=strategy,
                    workload=workload,
                    cpus=4,
                    last_pkmap=4,
                    pages=64,
                    hot_pages=4,
                    shared_page_prob=0.5,
                    work_cycles=300,
                    copy_cycles=3000,
                    copy_lookups=6,
                    ipi_latency=latency,
                    irq_section_prob=0.0,
                    tlb_evict_rate=0.0,
                )
                r = kmapsim.run(sc, cycles=cycles, seed=1)
                cells.append(f"{r.counters['stale_accesses']:,}")
            print(f"| `{strategy}` | `{workload}` | " + " | ".join(cells) + " |")
    print()


def clogging() -> None:
    cycles = 100_000_000
    tasks = 512
    print("#### 4. Pool clogging by pinned page-table kmaps (`pte-highmem`)\n")
    print(f"`{PRESET}` (8 CPUs), {tasks} tasks, `sync`, {cycles:,} cycles, seed 1.\n")
    cols = "kmaps/Mcycle | sleeps | flushes | slots examined per new map | tasks asleep on pool"
    print(f"| slots | {cols} |")
    print("|---|---|---|---|---|---|")
    for slots in (1024, 128):
        sc = Scenario.preset(PRESET, workload="pte-highmem", tasks=tasks, last_pkmap=slots)
        r = kmapsim.run(sc, cycles=cycles, seed=1)
        c = r.counters
        per_new = c["slots_examined"] / max(c["new_mappings"], 1)
        print(
            f"| {slots} | {r.throughput:.1f} | {c['sleeps']:,} | {c['flushes']:,} | "
            f"{per_new:.1f} | {share(r, 'pool_sleep'):.1%} |"
        )
    print()


def main() -> None:
    start = time.perf_counter()
    sleep_path()
    two_kmaps()
    irqs_off()
    clogging()
    print(f"(script time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
