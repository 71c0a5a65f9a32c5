"""The checker's table: every strategy, both allocators, on small machines (docs/verification.md).

Run: ``python docs/scripts/verification.py`` (a few minutes; ``--quick`` for smaller bounds).
Prints the Markdown of docs/verification.md's generated section: for each strategy and
allocator, the verdict of `kmapsim.check` on the checker's default machine (one task a CPU,
the `dbench` loop without interrupts-off sections or context switches), with the states
explored, the breadth-first depth reached and the wall time; then `guarded` and `async` under
an IPI bound, the misuse switch's deadlock, and machines whose tasks hold two mappings each.
"""

from __future__ import annotations

import argparse
import time

import kmapsim
from kmapsim.checker import check_machine
from kmapsim.study import all_strategies

STRATEGIES = all_strategies()
#: A task that holds two mappings at once (the kmap of a copy's source and destination).
TWO_MAPPINGS = (
    "kmap handle=0 page=cold; kmap handle=1 page=cold; access handle=0; access handle=1; "
    "kunmap handle=1; kunmap handle=0"
)


def row(
    label: str, alloc: str, sc: kmapsim.Scenario, max_states: int, max_ipis: int | None = None
) -> str:
    r = kmapsim.check(sc, max_states=max_states, max_ipis=max_ipis)
    b = r.bound
    machine = f"{b['cpus']} x {b['slots']} x {b['pages']}, {b['tasks']} tasks"
    if max_ipis is not None:
        machine += f", at most {max_ipis} IPI a CPU"
    verdict = r.verdict + (f" ({r.pruned:,} pruned)" if r.pruned else "")
    if r.depth_first_from is not None:
        verdict += f", depth-first from level {r.depth_first_from}"
    numbers = f"{r.states:,} | {r.depth:,} | {r.seconds:.2f}"
    return f"| {label} | {alloc} | {machine} | {verdict} | {numbers} |"


def table(max_states: int) -> None:
    print("| strategy | allocator | CPUs x slots x pages | verdict | states | depth | seconds |")
    print("|---|---|---|---|---:|---:|---:|")
    for pages in (2, 3):
        for s in STRATEGIES:
            for alloc in ("scan", "freelist"):
                sc = check_machine(s, cpus=2, slots=2, pages=pages, slot_alloc=alloc)
                print(row(s, alloc, sc, max_states))
    print()


def special(max_states: int) -> None:
    print(
        "| machine | strategy | allocator | CPUs x slots x pages | verdict | states | depth |",
        end="",
    )
    print(" seconds |")
    print("|---|---|---|---|---|---:|---:|---:|")
    for s in ("guarded", "async"):
        for alloc in ("scan", "freelist"):
            sc = check_machine(s, cpus=2, slots=2, pages=3, slot_alloc=alloc)
            print("| the IPI bound " + row(s, alloc, sc, max_states, max_ipis=1))
    cases = [
        ("misuse: kmap with interrupts off", "sync", dict(kmap_irqs_off_prob=1.0)),
        ("misuse: kmap with interrupts off", "broadcast", dict(kmap_irqs_off_prob=1.0)),
        ("misuse: kmap with interrupts off", "split", dict(kmap_irqs_off_prob=1.0)),
    ]
    for name, s, fields in cases:
        sc = check_machine(s, cpus=2, slots=2, pages=3, **fields)
        print(f"| {name} " + row(s, "scan", sc, max_states))
    for s, slots in (("sync", 2), ("async", 2), ("sync", 4)):
        sc = check_machine(s, cpus=2, slots=slots, pages=3, workload="custom", program=TWO_MAPPINGS)
        print("| two mappings a task " + row(s, "scan", sc, max_states))
    print()


#: The state bound of each row.
MAX_STATES = 5_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller bounds")
    args = ap.parse_args()
    max_states = 20_000 if args.quick else MAX_STATES
    start = time.perf_counter()
    print(f"State bound {max_states:,} a row; seed-free (the checker draws nothing).\n")
    table(max_states)
    special(max_states)
    print(f"(script time {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
