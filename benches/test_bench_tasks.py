"""f. Tasks: `pte-highmem` at 64 CPUs with 64 and 4,096 tasks (pytest-benchmark times each whole
`kmapsim.run` call); the 4,096-task run must simulate 1e8 cycles in under 2 s of engine time."""

from __future__ import annotations

import math

import pytest
from measure import Sizes, measure_tasks


@pytest.mark.benchmark(group="f-tasks")
@pytest.mark.parametrize("tasks", Sizes.current().tasks_counts)
def test_tasks(benchmark, tasks):
    info = measure_tasks(tasks, benchmark)
    benchmark.extra_info.update(info)
    assert info["kmaps"] > 0
    assert math.isfinite(info["ns_per_kmap"]) and info["ns_per_kmap"] > 0
