"""d. `kmapsim.sweep` on all cores against the same sweep serial (pytest-benchmark times the
parallel one)."""

from __future__ import annotations

import pytest
from measure import measure_sweep


@pytest.mark.benchmark(group="d-sweep")
def test_sweep_parallel_vs_serial(benchmark):
    info = measure_sweep(benchmark)
    benchmark.extra_info.update(info)
    assert info["identical_frames"], "a sweep must not depend on its executor"
