"""The exception classes: hierarchy, attributes, and pickling (sweeps run in worker processes)."""

from __future__ import annotations

import pickle

import pytest

import kmapsim
from kmapsim import DeadlockError, KernelBug, KmapsimError, ScenarioError


def _round_trip(e: BaseException) -> BaseException:
    back: BaseException = pickle.loads(pickle.dumps(e))
    assert type(back) is type(e) and str(back) == str(e)
    return back


def test_scenario_error() -> None:
    e = ScenarioError("cpus: 0 is out of range; allowed: [1, 4]", "cpus", "0 is out", "[1, 4]")
    assert isinstance(e, KmapsimError) and isinstance(e, ValueError)
    assert str(e) == "cpus: 0 is out of range; allowed: [1, 4]"
    back = _round_trip(e)
    assert isinstance(back, ScenarioError)
    assert (back.field, back.problem, back.allowed) == ("cpus", "0 is out", "[1, 4]")


def test_scenario_error_of_uses_the_engine_format() -> None:
    e = ScenarioError.of("cycles", "0 is out of range", "an integer in [1, 4]")
    assert str(e) == "cycles: 0 is out of range; allowed: an integer in [1, 4]"


def test_deadlock_error() -> None:
    edges: list[tuple[int, str, int | None]] = [(0, "waits for IPI acks", 1), (1, "spins", None)]
    e = DeadlockError("deadlock at 10\n  cpu0: waits", 10, [0, 1], edges)
    assert isinstance(e, KmapsimError) and isinstance(e, RuntimeError)
    back = _round_trip(e)
    assert isinstance(back, DeadlockError)
    assert (back.cycle, back.chain, back.edges) == (10, [0, 1], edges)


def test_kernel_bug() -> None:
    e = KernelBug("kernel BUG at cycle 5 on cpu2: count 0", 5, 2)
    assert isinstance(e, KmapsimError) and isinstance(e, RuntimeError)
    back = _round_trip(e)
    assert isinstance(back, KernelBug) and (back.cycle, back.cpu) == (5, 2)
    assert back.detail == str(e)
    e = KernelBug("kernel BUG at cycle 5 on cpu2: count 0", 5, 2, "count 0")
    back = _round_trip(e)
    assert isinstance(back, KernelBug) and back.detail == "count 0"


@pytest.mark.parametrize("name", ["ScenarioError", "DeadlockError", "KernelBug", "KmapsimError"])
def test_exported(name: str) -> None:
    assert getattr(kmapsim, name) is getattr(kmapsim.errors, name)


def test_attributes_added_after_construction_survive_pickling() -> None:
    """A sweep names a failing point by adding ``scenario`` and ``seed`` to its error, which
    must reach the parent of a process pool."""
    e = KernelBug("kernel BUG", 5, 1, "kunmap")
    e.seed = 3  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(e))
    assert back.seed == 3 and back.detail == "kunmap" and str(back) == "kernel BUG"
