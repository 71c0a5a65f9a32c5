"""Failures stay inside kmapsim: engine panics, wall-clock limits, determinism across processes."""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
import time

import pytest

import kmapsim
from kmapsim import InternalError, Scenario, ScenarioError, WallClockExceeded, _core

SMALL = Scenario(cpus=4, last_pkmap=16, pages=256, hot_pages=8)


def test_an_engine_panic_becomes_internal_error_with_scenario_and_seed() -> None:
    with pytest.raises(InternalError) as e:
        _core._panic_in_engine_for_tests(_core.Options(SMALL.to_dict(), 7))
    err = e.value
    assert "test-only trigger" in str(err) and "please report" in str(err)
    assert err.scenario == SMALL.to_dict() and err.seed == 7
    assert err.detail == "test-only trigger"
    assert pickle.loads(pickle.dumps(err)).scenario == err.scenario
    # The interpreter and the engine are fine afterwards.
    assert kmapsim.run(SMALL, cycles=100_000).counters["kmaps"] > 0


def test_max_wall_seconds_stops_a_long_run_promptly() -> None:
    start = time.monotonic()
    with pytest.raises(WallClockExceeded) as e:
        kmapsim.run(Scenario(cpus=64), cycles=2**49, mode="step", max_wall_seconds=0.2)
    assert time.monotonic() - start < 2.0
    assert e.value.seconds >= 0.2
    assert isinstance(e.value, TimeoutError)
    r = kmapsim.run(SMALL, cycles=100_000, max_wall_seconds=60)
    assert r.cycles == 100_000


def test_a_simulation_goes_on_after_its_wall_clock_limit() -> None:
    sim = kmapsim.Simulation(Scenario(cpus=64), seed=1, mode="step", max_wall_seconds=0.1)
    with pytest.raises(WallClockExceeded):
        sim.advance(2**40)
    now = sim.now
    assert now > 0
    sim.advance(10)
    assert sim.now == now + 10


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "1", True])
def test_bad_wall_limits_are_named(bad: object) -> None:
    with pytest.raises(ScenarioError) as e:
        kmapsim.run(SMALL, cycles=1000, max_wall_seconds=bad)  # type: ignore[arg-type]
    assert e.value.field == "max_wall_seconds"


DIGEST = """
import hashlib, json, sys, kmapsim
r = kmapsim.run(kmapsim.Scenario(cpus=8, strategy=sys.argv[1]), cycles=3_000_000, seed=11)
print(hashlib.sha256(json.dumps({k: v for k, v in r.to_dict().items()
                                 if k != "wall_seconds"}, sort_keys=True).encode()).hexdigest())
"""


@pytest.mark.parametrize("strategy", ["sync", "async", "lazy"])
def test_results_are_identical_across_processes(strategy: str) -> None:
    here = kmapsim.run(Scenario(cpus=8, strategy=strategy), cycles=3_000_000, seed=11)
    doc = {k: v for k, v in here.to_dict().items() if k != "wall_seconds"}
    mine = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    for _ in range(2):
        p = subprocess.run(
            [sys.executable, "-c", DIGEST, strategy], capture_output=True, text=True, check=True
        )
        assert p.stdout.strip() == mine
