"""g. The checker: states per second of `kmapsim.check` (pytest-benchmark times the
breadth-first search).

The machine is the checker's default with `sync` on 2 CPUs x 2 slots x 3 pages (197,427 states
up to a renaming of the CPUs and pages), searched breadth-first, and depth-first past a
frontier of 100 machines; the two rates are measured side by side (`measure.measure_check`).
Smoke mode (``KMAPSIM_BENCH_SMOKE=1``) uses 2 pages (14,541 states) and one round.
"""

from __future__ import annotations

import pytest
from measure import measure_check


@pytest.mark.benchmark(group="g-check")
def test_check_states_per_second(benchmark):
    info = measure_check(benchmark)
    benchmark.extra_info.update(info)
    assert info["verdict"] == "safe"
    # Both search orders explore the same set of states.
    assert info["same_states"]
