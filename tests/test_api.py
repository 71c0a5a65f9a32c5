"""`kmapsim.run` argument checks and the package's exports."""

from __future__ import annotations

from typing import Any

import pytest

import kmapsim
from kmapsim import Scenario, ScenarioError, _core


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cycles": 0}, "cycles"),
        ({"cycles": -1}, "cycles"),
        ({"cycles": 2**62 + 1}, "cycles"),
        ({"cycles": 1.5}, "cycles"),
        ({"cycles": 1000.0}, "cycles"),
        ({"cycles": True}, "cycles"),
        ({"cycles": "1000"}, "cycles"),
        ({"cycles": 1000, "seed": -1}, "seed"),
        ({"cycles": 1000, "seed": 2**64}, "seed"),
        ({"cycles": 1000, "seed": False}, "seed"),
        ({"cycles": 1000, "seed": 0.0}, "seed"),
        ({"cycles": 1000, "mode": "fast"}, "mode"),
        ({"cycles": 1000, "mode": None}, "mode"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError) as ei:
        kmapsim.run(Scenario(), **kwargs)
    assert ei.value.field == field
    assert str(ei.value).startswith(field)


def test_scenario_must_be_a_scenario() -> None:
    with pytest.raises(TypeError):
        kmapsim.run({"cpus": 2}, cycles=1000)  # type: ignore[arg-type]


def test_largest_seed_is_accepted() -> None:
    r = kmapsim.run(Scenario(cpus=1), cycles=1000, seed=2**64 - 1)
    assert r.seed == 2**64 - 1


def test_exports() -> None:
    for name in kmapsim.__all__:
        assert hasattr(kmapsim, name), name
    assert kmapsim.__version__ == _core.__version__
    assert kmapsim.CATEGORIES == _core.CATEGORIES
    assert kmapsim.CATEGORIES[:2] == ["work", "irqoff_spin"]
    assert "kmaps" in kmapsim.COUNTERS and "stale_accesses" in kmapsim.COUNTERS
