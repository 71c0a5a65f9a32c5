"""Hostile input to presets, sweep, store, study, plots and RunResult.from_dict: each is a
documented error (ScenarioError naming the field or argument, StoreError for the store path),
never a bare KeyError/TypeError/ValueError, and a huge value is quoted cut short."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kmapsim
from kmapsim import RunResult, Scenario, ScenarioTypeError
from kmapsim.errors import ScenarioError
from kmapsim.presets import get_preset, preset_names
from kmapsim.store import Store, StoreError
from kmapsim.study import all_strategies, run_study
from kmapsim.sweep import SweepResult, sweep

HUGE = "x" * 10_000_000
MAX_MESSAGE = 1000
CYCLES = 20_000


def _check(call: Callable[[], object], field: str, exc: type[Exception] = ScenarioError) -> str:
    with pytest.raises(exc) as info:
        call()
    err = info.value
    # A ScenarioError, or its ScenarioTypeError for a value of the wrong kind (docs/errors.md;
    # test_bad_inputs_by_kind.py pins which is which).
    assert type(err) is exc or (exc is ScenarioError and type(err) is ScenarioTypeError), err
    if isinstance(err, ScenarioError):
        assert err.field == field
        assert err.allowed
    assert len(str(err)) < MAX_MESSAGE
    return str(err)


# 1. presets -----------------------------------------------------------------------------------

PRESET_CASES: list[Any] = [HUGE, "y" * 65, 123, None, ["modern-64core"], b"x" * 10_000_000]


@pytest.mark.parametrize("name", PRESET_CASES, ids=lambda v: type(v).__name__)
def test_get_preset_refuses(name: Any) -> None:
    start = time.perf_counter()
    msg = _check(lambda: get_preset(name), "preset")
    assert time.perf_counter() - start < 1.0  # no difflib over a huge name
    assert preset_names()[0] in msg


def test_get_preset_still_suggests() -> None:
    name = preset_names()[0]
    msg = _check(lambda: get_preset(name[:-1] + "?"), "preset")
    assert f"did you mean {name!r}" in msg
    assert get_preset(name).name == name


# 2. sweep -------------------------------------------------------------------------------------

SWEEP_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("mode", {"mode": HUGE}, "mode"),
    ("grid name not str", {"grid": {HUGE.encode(): [1]}}, "grid"),
    ("grid name empty", {"grid": {" " * 10_000_000: [1]}}, "grid"),
    ("grid point", {"grid": {"strategy": [HUGE]}}, "strategy"),
]


@pytest.mark.parametrize(
    ("kwargs", "field"), [c[1:] for c in SWEEP_CASES], ids=[c[0] for c in SWEEP_CASES]
)
def test_sweep_refuses(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"cycles": CYCLES, "progress": False, "executor": "serial", **kwargs}
    _check(lambda: sweep(Scenario(), **args), field)


def _small_sweep_result() -> SweepResult:
    frame = pd.DataFrame(
        {"strategy": ["a", "a", "b"], "seed": [0, 1, 0], "throughput": [1.0, 2, 3]}
    )
    return SweepResult(frame=frame, grid={"strategy": ["a", "b"]}, seeds=[0, 1], cycles=1)


@pytest.mark.parametrize("value", [HUGE, "speed", 3, None], ids=["huge", "unknown", "int", "none"])
def test_summary_refuses(value: Any) -> None:
    msg = _check(lambda: _small_sweep_result().summary(value), "value")
    assert "throughput" in msg


def test_summary_still_works() -> None:
    table = _small_sweep_result().summary("throughput")
    assert table.loc["a", "mean"] == 1.5


# 3. store -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [HUGE.encode(), 12345, [HUGE]], ids=["bytes", "int", "list"])
def test_store_path_refused(path: Any) -> None:
    _check(lambda: Store(path), "", StoreError)


# 4. study -------------------------------------------------------------------------------------

STUDY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("preset and scenario", {"preset": HUGE, "scenario": Scenario()}, "scenario"),
    ("huge preset", {"preset": HUGE}, "preset"),
    ("preset not str", {"preset": 7}, "preset"),
    ("seeds str", {"seeds": HUGE}, "seeds"),
    ("seeds zero", {"seeds": 0}, "seeds"),
    ("seeds float", {"seeds": 2.5}, "seeds"),
    ("seeds bool", {"seeds": True}, "seeds"),
    ("cpus str", {"cpus": HUGE}, "cpus"),
    ("cpus float", {"cpus": 2.5}, "cpus"),
    ("cpus bad count", {"cpus": np.int64(-3)}, "cpus"),
    ("cpus 2-D", {"cpus": np.ones((2, 2), dtype=int)}, "cpus"),
    ("strategies str", {"strategies": HUGE}, "strategy"),
    # List entries are the field's integers: never int()-ed into one (True is not 1 CPU).
    ("cpus bool entry", {"cpus": [True, 2]}, "cpus"),
    ("cpus numpy bool entry", {"cpus": [np.True_, 2]}, "cpus"),
    ("cpus fraction entry", {"cpus": [2.7]}, "cpus"),
    ("cpus str entry", {"cpus": ["4"]}, "cpus"),
    ("latencies bool entry", {"latencies": [True]}, "latencies"),
    ("latencies fraction entry", {"latencies": [700.9]}, "latencies"),
    ("latencies str entry", {"latencies": ["x"]}, "latencies"),
    ("latencies bool", {"latencies": True}, "latencies"),
    ("latencies huge entry", {"latencies": [10**5000]}, "latencies"),
    ("latencies huge range", {"latencies": range(1, 10**300)}, "latencies"),
    ("latencies too many", {"latencies": range(1, 3 * 10**6)}, "latencies"),  # refused at once
]


#: The cases whose argument, or an entry of its list, is the wrong kind of object (a string, a
#: float or a bool for an integer field), not a wrong value.
STUDY_TYPE_CASES = {
    "cpus bool entry",
    "cpus numpy bool entry",
    "cpus fraction entry",
    "cpus str entry",
    "latencies bool entry",
    "latencies fraction entry",
    "latencies str entry",
    "preset not str",
    "seeds str",
    "seeds float",
    "seeds bool",
    "cpus str",
    "cpus float",
    "strategies str",
    "latencies bool",
}


@pytest.mark.parametrize(
    ("kwargs", "field"), [c[1:] for c in STUDY_CASES], ids=[c[0] for c in STUDY_CASES]
)
def test_run_study_refuses(
    tmp_path: Path, kwargs: dict[str, Any], field: str, request: pytest.FixtureRequest
) -> None:
    args: dict[str, Any] = {"cycles": CYCLES, "progress": False, "plots": False, **kwargs}
    # The wrong kind of object for the argument itself is a ScenarioTypeError (docs/errors.md).
    wrong_kind = request.node.callspec.id in STUDY_TYPE_CASES
    _check(
        lambda: run_study(tmp_path, **args),
        field,
        ScenarioTypeError if wrong_kind else ScenarioError,
    )


@pytest.mark.parametrize(
    ("cpus", "seeds"),
    [(2, 2), (np.int64(2), np.int64(2)), (np.array([1, 2]), np.array([5, 6]))],
    ids=["int", "numpy int", "numpy array"],
)
def test_run_study_accepts_ints_and_numpy(tmp_path: Path, cpus: Any, seeds: Any) -> None:
    study = run_study(
        tmp_path,
        cpus=cpus,
        seeds=seeds,
        strategies=all_strategies()[:1],
        cycles=CYCLES,
        progress=False,
        plots=False,
        executor="serial",
    )
    f = study.result.frame
    assert sorted(set(f["cpus"])) == sorted(np.atleast_1d(cpus).tolist())
    assert len(set(f["seed"])) == 2


# 5. plots -------------------------------------------------------------------------------------

FRAME = pd.DataFrame({"cpus": [1, 4, 16], "strategy": ["a", "a", "a"], "throughput": [1.0, 2, 3]})

PLOT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("kind", {"kind": HUGE}, "kind"),
    ("at unknown column", {"at": {HUGE: 1}}, "at"),
    ("at column not str", {"at": {7: 1}}, "at"),
    ("at no row", {"at": {"cpus": HUGE}}, "at"),
    ("at not a mapping", {"at": HUGE}, "at"),
]


@pytest.mark.parametrize(
    ("kwargs", "field"), [c[1:] for c in PLOT_CASES], ids=[c[0] for c in PLOT_CASES]
)
def test_plots_refuse(kwargs: dict[str, Any], field: str) -> None:
    pytest.importorskip("matplotlib")
    from kmapsim import plots

    kind = ScenarioTypeError if kwargs.get("at") == HUGE else ScenarioError  # not a mapping
    msg = _check(lambda: plots.lock_wait(FRAME, **kwargs), field, kind)
    if kwargs.get("at") == {"cpus": HUGE}:
        assert "matches no row" in msg and "'cpus': [1, 4, 16]" in msg


def test_plots_missing_column_named() -> None:
    pytest.importorskip("matplotlib")
    from kmapsim import plots

    # A column every such plot needs: the frame is at fault.
    msg = _check(lambda: plots.lock_wait(FRAME, at={"cpus": 4}), "frame")
    assert "kmap_lock_wait_counts" in msg


# 6. RunResult.from_dict -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def good() -> dict[str, Any]:
    return kmapsim.run(Scenario(), cycles=CYCLES, seed=1).to_dict()


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


RESULT_CASES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("huge string", lambda d: HUGE, "result"),
    ("list", lambda d: [HUGE], "result"),
    ("none", lambda d: None, "result"),
    ("empty", lambda d: {}, "'scenario'"),
    ("no seed", lambda d: _without(d, "seed"), "'seed'"),
    ("no histograms", lambda d: _without(d, "histograms"), "'histograms'"),
    ("seed huge str", lambda d: {**d, "seed": HUGE}, "'seed'"),
    ("wall_seconds list", lambda d: {**d, "wall_seconds": [1]}, "'wall_seconds'"),
    ("counters int", lambda d: {**d, "counters": 5}, "'counters'"),
    ("breakdown str", lambda d: {**d, "breakdown": HUGE}, "'breakdown'"),
    ("histograms list", lambda d: {**d, "histograms": [1, 2]}, "'histograms'"),
    ("violations bad", lambda d: {**d, "violations": [{}]}, "'violations'"),
    ("trace bad row", lambda d: {**d, "trace": [[1, 2]]}, "'trace'"),
    ("samples int", lambda d: {**d, "samples": 3}, "'samples'"),
    ("ops bad row", lambda d: {**d, "ops": [[1]]}, "'ops'"),
    ("scenario huge", lambda d: {**d, "scenario": {"cpus": HUGE}}, "'scenario'"),
    ("scenario str", lambda d: {**d, "scenario": HUGE}, "'scenario'"),
    # Numbers are read as what they are, never int()-ed: 2.7 is not seed 2, True not 1.
    ("seed fraction", lambda d: {**d, "seed": 2.7}, "'seed'"),
    ("seed str", lambda d: {**d, "seed": "4"}, "'seed'"),
    ("seed bool", lambda d: {**d, "seed": True}, "'seed'"),
    ("seed negative", lambda d: {**d, "seed": -1}, "'seed'"),
    ("cycles huge", lambda d: {**d, "cycles": 10**400}, "'cycles'"),
    ("events negative", lambda d: {**d, "events": -1}, "'events'"),
    ("trace_dropped bool", lambda d: {**d, "trace_dropped": True}, "'trace_dropped'"),
    ("wall_seconds str", lambda d: {**d, "wall_seconds": "1.5"}, "'wall_seconds'"),
    ("wall_seconds negative", lambda d: {**d, "wall_seconds": -3.0}, "'wall_seconds'"),
    ("wall_seconds nan", lambda d: {**d, "wall_seconds": float("nan")}, "'wall_seconds'"),
    (
        "counter fraction",
        lambda d: {**d, "counters": {**d["counters"], "kmaps": 2.7}},
        "'counters'",
    ),
    ("breakdown bool", lambda d: {**d, "breakdown": [[True]]}, "'breakdown'"),
]


@pytest.mark.parametrize(
    ("make", "named"), [c[1:] for c in RESULT_CASES], ids=[c[0] for c in RESULT_CASES]
)
def test_from_dict_refuses(
    good: dict[str, Any], make: Callable[[dict[str, Any]], object], named: str
) -> None:
    msg = _check(lambda: RunResult.from_dict(make(good)), "result")  # type: ignore[arg-type]
    assert named in msg


def test_from_dict_round_trip_still_works(good: dict[str, Any]) -> None:
    again = RunResult.from_dict(good).to_dict()
    assert again == good
