"""`Histogram`: a log2-bucketed distribution of cycle counts, as the engine records it.

The engine keeps 65 buckets so that recording a value costs one leading-zero count and no
allocation: bucket 0 holds the value 0 and bucket k >= 1 holds [2**(k-1), 2**k). Exact count,
sum, min and max are kept beside the buckets, so the mean and the extremes are exact and only
quantiles are approximate (to within a factor of two): `Histogram.quantile` returns the top of
the quantile's bucket (2**k - 1, e.g. 65535) unless asked to interpolate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kmapsim._frozen import sealed
from kmapsim._numbers import as_flag, as_float, as_fraction, as_int
from kmapsim._quote import quote
from kmapsim.errors import ScenarioError, ScenarioTypeError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NBUCKETS", "Histogram", "bucket_edges", "bucket_of"]

#: Number of buckets: one for 0, then one per power of two up to 2**64.
NBUCKETS = 65


def bucket_of(value: int) -> int:
    """The bucket that holds ``value`` (a non-negative integer below 2**64; anything else is
    the ScenarioError of field ``value``)."""
    return _value("value", value).bit_length()


def bucket_edges() -> npt.NDArray[np.uint64]:
    """Lower bound of every bucket: 0, 1, 2, 4, ..., 2**63 (uint64, as 2**63 overflows int64)."""
    edges = np.zeros(NBUCKETS, dtype=np.uint64)
    edges[1:] = np.left_shift(np.uint64(1), np.arange(NBUCKETS - 1, dtype=np.uint64))
    return edges


def _lower(bucket: int) -> int:
    """Smallest integer in ``bucket``."""
    return 0 if bucket == 0 else 1 << (bucket - 1)


def _upper(bucket: int) -> int:
    """Largest integer in ``bucket``."""
    return 0 if bucket == 0 else (1 << bucket) - 1


_VALUES = "integers in [0, 2**64) (a bool or a fraction is none)"


def _value(field: str, v: object) -> int:
    """A histogram's value (or count) ``field`` as an int in [0, 2**64): another type is a
    ScenarioTypeError, an integer out of range a ScenarioError."""
    n = as_int(v)
    if n is None:
        raise ScenarioTypeError.got(field, v, _VALUES)
    if not 0 <= n < 1 << 64:
        raise ScenarioError.of(field, f"{quote(v)} is out of range", _VALUES)
    return n


def _name(name: object) -> str:
    if not isinstance(name, str):
        raise ScenarioTypeError.got("name", name, "a string, e.g. 'kmap_lock_wait'")
    return name


def _counts(name: str, counts: object) -> npt.NDArray[np.int64]:
    """``counts`` as a fresh int64 array of the NBUCKETS bucket counts (integers >= 0)."""
    allowed = f"{NBUCKETS} integer bucket counts >= 0"
    arr = np.asarray(counts)
    if arr.dtype.kind not in "iu" and not (arr.dtype == object and arr.size == 0):
        raise ScenarioTypeError.of("counts", f"histogram {name}: {arr.dtype} counts", allowed)
    if arr.shape != (NBUCKETS,):
        raise ScenarioError.of("counts", f"histogram {name}: {arr.shape} counts", allowed)
    if (arr < 0).any():
        raise ScenarioError.of("counts", f"histogram {name}: a negative count", allowed)
    return np.array(arr, dtype=np.int64)  # a copy, which we may freeze


def _fraction(q: object) -> float:
    """Quantile ``q`` as a float in [0, 1]: no number is a ScenarioTypeError, NaN or a number
    outside a ScenarioError."""
    allowed = "a number in [0, 1]"
    try:
        number = as_float(q)
    except OverflowError:
        number = math.inf
    if number is None:
        raise ScenarioTypeError.got("q", q, allowed)
    f = as_fraction(q)
    if f is None:
        raise ScenarioError.of("q", f"got {quote(q)}", allowed)
    return f


@sealed
@dataclass(frozen=True, eq=False)
class Histogram:
    """One distribution from a run, e.g. ``kmap_lock_wait`` in cycles.

    ``counts`` is a read-only int64 array of the 65 bucket counts, ``count`` the number of
    recorded values, ``sum``, ``min`` and ``max`` their exact sum and extremes (``min`` and
    ``max`` are 0 when nothing was recorded).
    """

    name: str
    counts: npt.NDArray[np.int64]
    count: int
    sum: int
    min: int
    max: int

    def __post_init__(self) -> None:
        # Checked, not converted: int("5") or a float count would pass as a number silently.
        counts = _counts(_name(self.name), self.counts)
        counts.flags.writeable = False
        object.__setattr__(self, "counts", counts)
        for name in ("count", "min", "max"):
            object.__setattr__(self, name, _value(name, getattr(self, name)))
        total = as_int(self.sum)  # a sum of 2**64 values below 2**64 may exceed 2**64
        if total is None or total < 0:
            raise ScenarioTypeError.got("sum", self.sum, "an integer >= 0")
        object.__setattr__(self, "sum", total)

    @classmethod
    def from_raw(cls, name: str, raw: Mapping[str, Any]) -> Histogram:
        """From the engine's dict: counts, count, sum, min, max (a ScenarioError names what is
        missing; every value is checked as the constructor checks it)."""
        keys = ("counts", "count", "sum", "min", "max")
        allowed = "a mapping with the keys " + ", ".join(keys)
        if not isinstance(raw, Mapping):
            raise ScenarioTypeError.got("raw", raw, allowed)
        missing = [k for k in keys if k not in raw]
        if missing:
            raise ScenarioError.of("raw", "no key " + ", ".join(missing), allowed)
        return cls(
            name=name,
            counts=np.asarray(raw["counts"], dtype=np.int64),
            count=raw["count"],
            sum=raw["sum"],
            min=raw["min"],
            max=raw["max"],
        )

    @classmethod
    def from_values(cls, name: str, values: Sequence[int]) -> Histogram:
        """Bucket plain values as the engine does: for tests, and for measured data to compare.

        ``name`` is a string. Raises ScenarioTypeError (a TypeError) for a name that is no
        string, ``values`` that are no list of integers (a bool or a fraction is not one), and
        ScenarioError naming the first value out of [0, 2**64)."""
        _name(name)
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise ScenarioTypeError.got("values", values, "a list of " + _VALUES)
        counts = np.zeros(NBUCKETS, dtype=np.int64)
        values = [_value(f"values[{i}]", v) for i, v in enumerate(values)]
        for v in values:
            counts[bucket_of(v)] += 1
        return cls(
            name=name,
            counts=counts,
            count=len(values),
            sum=sum(int(v) for v in values),
            min=min(values, default=0),
            max=max(values, default=0),
        )

    @property
    def mean(self) -> float:
        """Exact mean of the recorded values (NaN when there are none)."""
        return self.sum / self.count if self.count else math.nan

    @property
    def edges(self) -> npt.NDArray[np.uint64]:
        """Lower bound of each bucket (see `bucket_edges`)."""
        return bucket_edges()

    def quantile(self, q: float, *, interpolate: bool = False) -> int:
        """The ``q``-quantile, from the buckets: by default an upper bound, exact at q = 0
        (``min``) and q = 1 (``max``).

        The q-quantile x is the value of rank ceil(q * count) (at least 1) among the sorted
        values. The buckets only say which power-of-two range [2**(k-1), 2**k - 1] holds it,
        so by default this returns that range's top, 2**k - 1, clamped to [``min``, ``max``]:
        a p99 of 65535 means "the 99th percentile lies in [32768, 65535]", not that any value
        was 65535. The true quantile satisfies x <= result <= 2x - 1 (for x >= 1), so the
        result may overstate x by up to a factor of two; it never understates it.

        ``interpolate=True`` returns an estimate instead of a bound: the rank's position
        within its bucket, assuming the bucket's values spread evenly over its range (the
        range clamped to [``min``, ``max``]), rounded to an integer. It lies in the same
        bucket as x, so within a factor of two of it either way, and may be below x.

        Raises ScenarioTypeError (a TypeError) when q is not a number (a bool or a string is
        not one) or ``interpolate`` is not a bool (a numpy bool is one), ScenarioError when q
        is outside [0, 1] or NaN, or the histogram is empty (field ``histogram``).
        """
        flag = as_flag(interpolate)
        if flag is None:
            raise ScenarioTypeError.got("interpolate", interpolate, "True or False")
        interpolate = flag
        q = _fraction(q)
        if self.count == 0:
            raise ScenarioError.of(
                "histogram",
                f"{self.name} is empty: no value was recorded, so it has no quantile",
                "a histogram with count > 0 (check .count first)",
            )
        if q == 0.0:
            return self.min
        rank = max(1, math.ceil(q * self.count))
        cumulative = np.cumsum(self.counts)
        bucket = int(np.searchsorted(cumulative, rank, side="left"))
        top = max(self.min, min(_upper(bucket), self.max))
        if not interpolate or q == 1.0:
            return top
        bottom = min(self.max, max(_lower(bucket), self.min))
        before = int(cumulative[bucket - 1]) if bucket else 0
        inside = int(self.counts[bucket])
        # The rank's place among the bucket's values, each at the middle of an equal share.
        fraction = (rank - before - 0.5) / inside
        return max(bottom, min(top, round(bottom + fraction * (top - bottom))))

    def to_series(self) -> pd.Series:
        """Bucket counts indexed by each bucket's lower bound (index name ``lower_bound``)."""
        import pandas as pd

        index = pd.Index(self.edges, name="lower_bound")
        return pd.Series(np.array(self.counts), index=index, name=self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts as a list, the exact statistics, and the mean (None when empty)."""
        return {
            "counts": [int(c) for c in self.counts],
            "count": self.count,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
            "mean": self.mean if self.count else None,
        }

    # Defining __eq__ makes instances unhashable, which suits a value holding an array.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self.name == other.name
            and (self.count, self.sum, self.min, self.max)
            == (other.count, other.sum, other.min, other.max)
            and bool(np.array_equal(self.counts, other.counts))
        )
