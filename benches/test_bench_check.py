"""g. The checker: states per second of `kmapsim.check` (pytest-benchmark times each whole call).

The machine is the checker's default with `sync` on 2 CPUs x 2 slots x 3 pages (197,427 states
up to a renaming of the CPUs and pages), searched breadth-first, and depth-first past a
frontier of 100 machines; the two rates are measured side by side. Smoke mode
(``KMAPSIM_BENCH_SMOKE=1``) uses 2 pages (14,541 states) and one round.
"""

from __future__ import annotations

import os

import pytest

import kmapsim

SMOKE = os.environ.get("KMAPSIM_BENCH_SMOKE") == "1"
PAGES = 2 if SMOKE else 3
ROUNDS = 1 if SMOKE else 5


@pytest.mark.benchmark(group="g-check")
@pytest.mark.parametrize("frontier", [100_000, 100], ids=["breadth-first", "depth-first"])
def test_check_states_per_second(benchmark, frontier):
    result = benchmark.pedantic(
        lambda: kmapsim.check(strategy="sync", pages=PAGES, max_frontier=frontier),
        rounds=ROUNDS,
        iterations=1,
    )
    assert result.verdict == "safe"
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        states=result.states,
        transitions=result.transitions,
        states_per_second=result.states / seconds,
        depth_first=result.depth_first_from is not None,
    )
