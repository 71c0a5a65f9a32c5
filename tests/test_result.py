"""RunResult from a small real run: shapes, exact bookkeeping and serialisation.

These check what the Python layer promises about the shape of a result, not what the engine
computes (the engine's own tests do that).
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest

import kmapsim
from kmapsim import CATEGORIES, COUNTERS, HISTOGRAMS, Histogram, RunResult, Scenario, StaleAccess

CYCLES = 200_000


@pytest.fixture(scope="module")
def result() -> RunResult:
    sc = Scenario.preset("pIII-8way-2001", cpus=4)
    return kmapsim.run(sc, cycles=CYCLES, seed=1)


def test_metadata(result: RunResult) -> None:
    assert isinstance(result, RunResult)
    assert (result.cycles, result.seed, result.mode) == (CYCLES, 1, "skip")
    assert result.scenario == Scenario(cpus=4) and result.cpus == 4
    assert isinstance(result.events, int) and result.events >= 0
    assert isinstance(result.wall_seconds, float) and result.wall_seconds >= 0


def test_breakdown_shape_and_exact_rows(result: RunResult) -> None:
    b = result.breakdown
    assert isinstance(b, pd.DataFrame)
    assert b.shape == (4, len(CATEGORIES))
    assert list(b.columns) == list(CATEGORIES)
    assert b.index.name == "cpu" and list(b.index) == [0, 1, 2, 3]
    assert all(dt == np.int64 for dt in b.dtypes)
    assert (b.to_numpy() >= 0).all()
    assert [int(x) for x in b.sum(axis=1)] == [CYCLES] * 4


def test_counters(result: RunResult) -> None:
    assert set(result.counters) >= set(COUNTERS)
    assert all(type(v) is int and v >= 0 for v in result.counters.values())
    assert result.kmaps == result.counters["kmaps"]


def test_histograms(result: RunResult) -> None:
    assert set(result.histograms) == set(HISTOGRAMS)
    for name, h in result.histograms.items():
        assert isinstance(h, Histogram) and h.name == name
        assert len(h.counts) == 65 and int(h.counts.sum()) == h.count
        if h.count:
            assert h.min <= h.mean <= h.max
            qs = [h.quantile(q) for q in (0.0, 0.1, 0.5, 0.9, 0.99, 1.0)]
            assert qs == sorted(qs) and qs[0] == h.min and qs[-1] == h.max


def test_violations_are_stale_accesses(result: RunResult) -> None:
    assert all(isinstance(v, StaleAccess) for v in result.violations)
    assert len(result.violations) <= result.scenario.max_violation_records


def test_derived_figures(result: RunResult) -> None:
    k = result.kmaps
    assert result.throughput == pytest.approx(k * 1e6 / CYCLES)
    seconds = CYCLES / 700e6
    assert result.simulated_seconds == pytest.approx(seconds)
    assert result.kmaps_per_second == pytest.approx(k / seconds)
    assert result.mb_per_second == pytest.approx(k * 4096 / seconds / 1e6)
    eps = result.events_per_second
    assert math.isnan(eps) or eps >= 0


def test_shares(result: RunResult) -> None:
    s = result.shares()
    assert list(s.columns) == list(CATEGORIES)
    assert np.allclose(s.sum(axis=1), 1.0)


def test_summary(result: RunResult) -> None:
    s = result.summary()
    assert isinstance(s, pd.Series)
    assert s["kmaps"] == result.kmaps and type(s["kmaps"]) is int
    assert s["throughput"] == result.throughput
    assert s["stale_accesses"] == result.counters["stale_accesses"]


def test_to_dict_is_json_and_round_trips(result: RunResult) -> None:
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = RunResult.from_dict(json.loads(text))
    assert back.scenario == result.scenario
    assert (back.cycles, back.seed, back.mode, back.events) == (
        result.cycles,
        result.seed,
        result.mode,
        result.events,
    )
    assert back.counters == result.counters
    pd.testing.assert_frame_equal(back.breakdown, result.breakdown)
    assert back.histograms == result.histograms
    assert back.violations == result.violations


def test_pickle(result: RunResult) -> None:
    back = pickle.loads(pickle.dumps(result))
    assert back.scenario == result.scenario and back.counters == result.counters
    pd.testing.assert_frame_equal(back.breakdown, result.breakdown)


def test_step_mode_runs() -> None:
    r = kmapsim.run(Scenario(cpus=2), cycles=20_000, seed=3, mode="step")
    assert r.mode == "step"
    assert [int(x) for x in r.breakdown.sum(axis=1)] == [20_000] * 2


def test_stale_access_from_raw() -> None:
    raw = {
        "cycle": 9,
        "cpu": 1,
        "slot": 3,
        "expected_page": 7,
        "actual_page": 8,
        "entry_loaded_at": 2,
        "slot_remapped_at": 5,
        "remapped_by": -1,
    }
    v = StaleAccess.from_raw(raw)
    assert v.remapped_by is None and v.to_dict() == {**raw, "remapped_by": None}
    assert StaleAccess.from_raw({**raw, "remapped_by": 0}).remapped_by == 0
