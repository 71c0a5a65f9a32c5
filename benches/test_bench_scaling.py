"""c. Engine speed at 8, 64, 256 and 1024 CPUs: events per second, ns per event, simulated
CPU-cycles per second (pytest-benchmark times each whole `kmapsim.run` call)."""

from __future__ import annotations

import math

import pytest
from measure import Sizes, measure_scaling


@pytest.mark.benchmark(group="c-scaling")
@pytest.mark.parametrize("cpus", Sizes.current().scaling_cpus)
def test_scaling(benchmark, cpus):
    info = measure_scaling(cpus, benchmark)
    benchmark.extra_info.update(info)
    assert info["events"] > 0
    assert math.isfinite(info["ns_per_event"]) and info["ns_per_event"] > 0
