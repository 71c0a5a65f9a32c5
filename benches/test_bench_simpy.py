"""b. The SimPy peer (benches/simpy_peer.py) against kmapsim.

The agreement of the counters on the small scenario is asserted; the speed ratio on the 64-CPU
preset is measured (pytest-benchmark times the SimPy peer).
"""

from __future__ import annotations

import pytest
from measure import AGREE_TOLERANCE, disagreements, measure_agreement, measure_simpy_speed


@pytest.mark.benchmark(group="b-simpy")
def test_simpy_agrees_with_kmapsim(benchmark):
    holder = []
    benchmark.pedantic(
        lambda: holder.append(measure_agreement()), rounds=1, iterations=1, warmup_rounds=0
    )
    info = holder[-1]
    benchmark.extra_info.update(info)
    bad = disagreements(info)
    assert not bad, f"SimPy peer and kmapsim differ by more than {AGREE_TOLERANCE:.0%}: {bad}"


@pytest.mark.benchmark(group="b-simpy")
def test_simpy_speed(benchmark):
    info = measure_simpy_speed(benchmark)
    benchmark.extra_info.update(info)
    assert info["ratio_call"] > 1, info
