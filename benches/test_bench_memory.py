"""e. Peak RSS against simulated cycles at 64 CPUs, each point in a fresh interpreter, through
the package and with the engine alone (pytest-benchmark times the longest run)."""

from __future__ import annotations

import pytest
from measure import measure_memory, memory_growth_mib

#: Without a trace, memory must not grow with cycles; allow this much noise between points.
FLAT_MIB = 8.0


@pytest.mark.benchmark(group="e-memory")
def test_peak_rss_flat_in_cycles(benchmark):
    rows = measure_memory(benchmark)
    growth = memory_growth_mib(rows)
    for r in rows:
        kind = "engine" if r["engine_only"] else "package"
        benchmark.extra_info[f"{kind}_peak_mib_{r['cycles']:.0e}"] = r["peak_mib"]
        benchmark.extra_info[f"{kind}_floor_mib"] = r["floor_mib"]
    benchmark.extra_info["growth_mib_package"] = growth[False]
    benchmark.extra_info["growth_mib_engine"] = growth[True]
    assert growth[False] < FLAT_MIB, rows
    assert growth[True] < FLAT_MIB, rows
