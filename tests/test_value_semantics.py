"""Results are values: nothing they expose can be changed in place, they compare equal when
equal (also after a pickle round trip), hash when they are hashable, and a frozen class refuses
assignment with an error that says how to change a copy."""

from __future__ import annotations

import dataclasses
import pickle
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import kmapsim
from kmapsim import RunResult, Scenario, Simulation
from kmapsim.checker import check_machine


@pytest.fixture(scope="module")
def result() -> RunResult:
    return kmapsim.run(Scenario(cpus=4), cycles=200_000, seed=1, trace=50, sample_every=20_000)


def _refused(change: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match="read-only"):
        change()


def test_a_results_dicts_and_lists_cannot_be_changed(result: RunResult) -> None:
    before = (result.throughput, repr(result), result.to_dict())
    _refused(lambda: result.counters.__setitem__("kmaps", 1))
    _refused(lambda: result.counters.update(kmaps=1))
    _refused(lambda: result.histograms.pop("kmap_lock_wait"))
    _refused(lambda: result.breakdown_rows[0].__setitem__(0, 0))
    _refused(lambda: result.violations.append(None))
    _refused(lambda: result.lock_stats_rows[0].__setitem__("acquisitions", 0))
    _refused(lambda: result.trace_rows[0][3].clear())
    assert (result.throughput, repr(result), result.to_dict()) == before


@pytest.mark.parametrize("name", ["breakdown", "task_breakdown", "lock_stats", "trace", "samples"])
def test_a_results_frames_are_copies(result: RunResult, name: str) -> None:
    before = getattr(result, name).copy()
    frame = getattr(result, name)
    frame["added"] = 1
    pd.testing.assert_frame_equal(getattr(result, name), before)
    assert result.shares().equals(result.breakdown / result.cycles)


def test_frozen_containers_still_compare_pickle_and_dump(result: RunResult) -> None:
    back = pickle.loads(pickle.dumps(result))
    assert back.counters == result.counters == dict(result.counters)
    assert back.breakdown_rows == [list(r) for r in result.breakdown_rows]
    assert RunResult.from_dict(result.to_dict()).to_dict() == result.to_dict()


def test_a_snapshot_is_a_value() -> None:
    sim = Simulation(Scenario(cpus=2))
    sim.advance(10_000)
    snap = sim.snapshot()
    back = pickle.loads(pickle.dumps(snap))
    assert snap == back and snap in [back]
    assert snap != dataclasses.replace(snap, cycle=snap.cycle + 1)
    cpus = snap.cpus
    cpus["added"] = 1
    assert snap == back
    _refused(lambda: snap.counters.__setitem__("kmaps", 5))
    _refused(lambda: snap.locks[0]["waiters"].append(3))
    with pytest.raises(TypeError, match="unhashable"):
        hash(snap)


def test_a_sweep_result_is_a_value() -> None:
    sw = kmapsim.sweep(Scenario(cpus=2), grid={"cpus": [1, 2]}, cycles=20_000, progress=False)
    back = pickle.loads(pickle.dumps(sw))
    assert sw == back and sw in [back]
    frame = sw.frame
    frame["throughput"] = 0.0
    assert sw == back
    _refused(lambda: sw.grid["cpus"].append(3))
    _refused(lambda: sw.seeds.append(3))
    with pytest.raises(TypeError, match="unhashable"):
        hash(sw)


def test_a_check_result_is_hashable_and_unchangeable() -> None:
    r = kmapsim.check(check_machine("sync", pages=2), max_states=2_000)
    assert hash(r) == hash(r) and r in {r}
    _refused(lambda: r.bound.__setitem__("max_states", 1))
    step = kmapsim.check(strategy="async").counterexample
    assert step is not None and hash(step)
    for s in step:
        for _, _, fields in s.trace:
            _refused(lambda f=fields: f.__setitem__("x", 1))  # type: ignore[misc]


def test_a_witness_hands_out_a_copy_of_its_calls() -> None:
    w = kmapsim.check(strategy="async").witness
    assert w is not None
    calls = w.calls
    calls["work"] = 10**9
    assert (w.calls["work"] < 10**9).all()


def test_repr_of_a_busy_simulation_says_so() -> None:
    sim = Simulation(Scenario(cpus=4))
    started, done = threading.Event(), threading.Event()

    def advance() -> None:
        started.set()
        sim.advance(20_000_000)
        done.set()

    t = threading.Thread(target=advance)
    t.start()
    started.wait()
    texts = []
    while not done.is_set() and len(texts) < 1000:
        texts.append(repr(sim))
    t.join()
    assert all(text.startswith("Simulation(") for text in texts)
    assert any("busy" in text for text in texts) or done.is_set()


FROZEN: list[tuple[Any, str, str]] = [
    (Scenario(), "cpu", "cpus"),
    (
        kmapsim.Histogram.from_raw(
            "h", {"counts": [0] * 65, "count": 0, "sum": 0, "min": 0, "max": 0}
        ),
        "cont",
        "count",
    ),
]


@pytest.mark.parametrize(("obj", "wrong", "right"), FROZEN)
def test_assigning_to_a_frozen_class_says_it_is_frozen(obj: Any, wrong: str, right: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError) as info:
        setattr(obj, wrong, 16)
    text = str(info.value)
    assert "is frozen" in text and f"did you mean {right!r}" in text
    with pytest.raises(AttributeError, match="is frozen"):
        setattr(obj, right, 16)
    with pytest.raises(AttributeError, match="is frozen"):
        delattr(obj, right)


def test_a_scenario_says_how_to_change_a_copy() -> None:
    with pytest.raises(AttributeError, match=r"\.replace\(cpus=16\)"):
        Scenario().cpu = 16  # type: ignore[attr-defined]


def test_every_frozen_public_class_is_sealed(result: RunResult) -> None:
    from kmapsim._frozen import frozen_setattr

    classes = [c for c in vars(kmapsim).values() if dataclasses.is_dataclass(c)]
    classes += [kmapsim.checker.CheckResult, kmapsim.checker.CheckStep, kmapsim.checker.Witness]
    frozen = [c for c in classes if c.__dataclass_params__.frozen]  # type: ignore[attr-defined]
    assert frozen and all(c.__setattr__ is frozen_setattr for c in frozen), frozen


def test_a_check_result_equals_its_pickled_copy() -> None:
    r = kmapsim.check(strategy="async")
    back = pickle.loads(pickle.dumps(r))
    assert back == r and hash(back) == hash(r) and r in [back]
    assert back != dataclasses.replace(r, states=r.states + 1)
