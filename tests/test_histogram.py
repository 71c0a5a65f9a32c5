"""Histogram: the log2 bucket layout, exact statistics and the quantile bound, on made-up data."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmapsim import ScenarioError
from kmapsim.histogram import NBUCKETS, Histogram, bucket_edges, bucket_of

VALUES = st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 5000), min_size=1, max_size=200)


def test_bucket_layout() -> None:
    assert [bucket_of(v) for v in (0, 1, 2, 3, 4, 7, 8, 2**63, 2**64 - 1)] == [
        0, 1, 2, 2, 3, 3, 4, 64, 64,
    ]  # fmt: skip
    edges = bucket_edges()
    assert edges.dtype == np.uint64 and len(edges) == NBUCKETS
    assert [int(x) for x in edges[:5]] == [0, 1, 2, 4, 8] and int(edges[-1]) == 2**63
    for k in range(1, NBUCKETS):
        assert bucket_of(int(edges[k])) == k


def test_exact_statistics_and_frozen_counts() -> None:
    h = Histogram.from_values("x", [0, 3, 5, 100])
    assert (h.count, h.sum, h.min, h.max, h.mean) == (4, 108, 0, 100, 27.0)
    assert h.counts.dtype == np.int64 and int(h.counts.sum()) == 4
    with pytest.raises(ValueError):
        h.counts[0] = 7


def test_empty() -> None:
    h = Histogram.from_values("x", [])
    assert h.count == 0 and math.isnan(h.mean)
    with pytest.raises(ValueError, match="empty"):
        h.quantile(0.5)
    assert h.to_dict()["mean"] is None


@pytest.mark.parametrize(
    ("q", "typed"),
    [(-0.1, False), (1.1, False), (math.nan, False), (10**400, False), (True, True), ("0.5", True)],
)
def test_bad_quantile(q: float, typed: bool) -> None:
    """A q that is no number is a ScenarioTypeError (a TypeError); a number outside [0, 1], or
    NaN, a ScenarioError (a ValueError)."""
    with pytest.raises(ScenarioError, match=re.escape("a number in [0, 1]")) as info:
        Histogram.from_values("x", [1]).quantile(q)
    assert info.value.field == "q" and isinstance(info.value, TypeError) == typed


@pytest.mark.parametrize(
    ("values", "field", "shown", "typed"),
    [
        ([1, True], "values[1]", "got bool True", True),  # a bool is no cycle count
        ([2.5], "values[0]", "got float 2.5", True),
        ([-1], "values[0]", "-1 is out of range", False),
        ([2**64], "values[0]", "18446744073709551616 is out of range", False),
        ([10**5000], "values[0]", "<integer of about 5001 digits>", False),
    ],
)
def test_bad_values_are_named(values: list[object], field: str, shown: str, typed: bool) -> None:
    with pytest.raises(ScenarioError, match=re.escape(shown)) as info:
        Histogram.from_values("x", values)  # type: ignore[arg-type]
    assert info.value.field == field and isinstance(info.value, TypeError) == typed
    assert Histogram.from_values("x", [np.int64(3), 5]).sum == 8


def test_wrong_bucket_count_is_rejected() -> None:
    with pytest.raises(ValueError):
        Histogram(name="x", counts=np.zeros(64, dtype=np.int64), count=0, sum=0, min=0, max=0)


@given(VALUES, st.floats(0.0, 1.0))
def test_quantile_bounds_the_true_quantile(values: list[int], q: float) -> None:
    h = Histogram.from_values("x", values)
    ordered = sorted(values)
    true = ordered[max(1, math.ceil(q * len(values))) - 1]
    got = h.quantile(q)
    assert h.min <= got <= h.max
    assert true <= got <= max(true, 2 * true - 1)
    assert h.quantile(0.0) == h.min and h.quantile(1.0) == h.max


@given(VALUES, st.lists(st.floats(0.0, 1.0), min_size=2, max_size=10))
def test_quantile_is_monotone(values: list[int], qs: list[float]) -> None:
    h = Histogram.from_values("x", values)
    got = [h.quantile(q) for q in sorted(qs)]
    assert got == sorted(got)


@given(VALUES)
def test_series_dict_and_equality(values: list[int]) -> None:
    h = Histogram.from_values("wait", values)
    s = h.to_series()
    assert len(s) == NBUCKETS and int(s.sum()) == h.count and s.name == "wait"
    d = h.to_dict()
    json.dumps(d, allow_nan=False)
    assert Histogram.from_raw("wait", d) == h
    assert h != Histogram.from_values("wait", [*values, 1])
