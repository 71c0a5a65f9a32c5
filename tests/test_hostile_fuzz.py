"""Hostile values everywhere: only documented exception classes ever come out.

Hypothesis drives `Scenario`, `run`, `Simulation`, operation lists and scenario files with
hostile values (huge and negative integers, NaN, infinities, -0.0, strings, bytes, None,
containers, numpy scalars and arrays, deep nesting) and asserts that every failure is a
`KmapsimError` (docs/errors.md lists each class with the entry points that raise it). The "ci"
profile keeps it quick; ``KMAPSIM_HYPOTHESIS_PROFILE=slow`` hunts longer (tests/conftest.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kmapsim
from kmapsim import KmapsimError, Scenario

SMALL = Scenario(cpus=2, last_pkmap=8, pages=64, hot_pages=8, work_cycles=2000)
FIELDS = [f["name"] for f in Scenario.fields()]
COLUMNS = ["cpu", "work", "irq_lock", "irq_hold", "page", "irqs_off", "switch"]

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**32, 2**40, 2**50, 2**62, 2**64, 2**64 - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 0.5, 1e300, math.inf, -math.inf, math.nan]),
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.sampled_from(["", " ", "sync", "skip", "step", "scan", "x" * 5000]),
    st.sampled_from([np.int64(3), np.uint64(2**64 - 1), np.float64("nan"), np.bool_(True)]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
    st.builds(lambda xs: np.array(xs), st.lists(st.integers(-5, 5), max_size=3)),
)


def _long(v: object) -> bool:
    """A valid but long run length (it would only take time, not find a fault)."""
    is_int = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    return is_int and 30_000 < int(v) <= 2**50  # type: ignore[call-overload]


# Valid sizes stay small so that an accepted run is quick; everything else is hostile.
cycles = st.one_of(st.integers(1, 30_000), values.filter(lambda v: not _long(v)))


def only_documented(call: Any) -> None:
    try:
        call()
    except KmapsimError:
        pass


@given(
    st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), values, max_size=3)
)
def test_scenario_fields(changes: dict[str, Any]) -> None:
    only_documented(lambda: SMALL.replace(**changes))
    only_documented(lambda: Scenario.from_dict(changes))


@given(
    cycles,
    values,
    st.one_of(st.sampled_from(["skip", "step"]), values),
    st.one_of(st.integers(0, 100), values),
    st.one_of(st.integers(0, 5000), values),
    st.one_of(st.none(), st.floats(0.5, 5.0), values),
    values,
)
def test_run_arguments(
    n: Any, seed: Any, mode: Any, trace: Any, every: Any, wall: Any, record: Any
) -> None:
    only_documented(
        lambda: kmapsim.run(
            SMALL,
            cycles=n,
            seed=seed,
            mode=mode,
            trace=trace,
            sample_every=every,
            max_wall_seconds=wall,
            record_ops=record,
        )
    )


@given(values, cycles, cycles)
def test_simulation_arguments(seed: Any, first: Any, then: Any) -> None:
    def go() -> None:
        sim = kmapsim.Simulation(SMALL, seed=seed)
        only_documented(lambda: sim.advance(first))
        only_documented(lambda: sim.advance_to(then))
        sim.result()

    only_documented(go)


rows = st.dictionaries(st.sampled_from([*COLUMNS, "bogus"]), values, max_size=5)
good_row = st.fixed_dictionaries(
    {"work": st.integers(1, 500), "page": st.integers(0, 63)},
    optional={"irq_lock": st.integers(-1, 3), "irq_hold": st.integers(0, 500)},
)


@given(
    st.dictionaries(
        st.one_of(st.integers(-2, 3), scalars),
        st.lists(st.one_of(good_row, rows), max_size=4),
        max_size=3,
    )
)
def test_operation_lists(ops: dict[Any, Any]) -> None:
    only_documented(lambda: kmapsim.run(SMALL, cycles=20_000, replay=ops))


def nested(depth: int) -> str:
    return '{"cpus": ' + "[" * depth + "1" + "]" * depth + "}"


documents = st.one_of(
    st.text(max_size=200),
    st.dictionaries(st.text(max_size=10), values, max_size=3).map(
        lambda d: json.dumps(d, default=repr)
    ),
    st.integers(0, 100_000).map(nested),
    st.sampled_from(['{"cpus": ' + "9" * 5000 + "}", "cpus = " + "9" * 5000, "\x00\xff", ""]),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents, st.sampled_from([".json", ".toml", ".yaml", ""]))
def test_scenario_files(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"scenario{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    only_documented(lambda: Scenario.from_file(path))


def test_the_errors_doc_lists_every_class_with_what_raises_it() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `")}
    classes = [
        name
        for name in kmapsim.__all__
        if isinstance(getattr(kmapsim, name), type)
        and issubclass(getattr(kmapsim, name), (KmapsimError, Warning))
        and name != "KmapsimError"
    ]
    assert "StoreWarning" in classes and "SimulationBusy" in classes
    for name in [*classes, "MemoryError", "KeyboardInterrupt"]:
        row = next((line for key, line in rows.items() if key.startswith(f"`{name}`")), None)
        assert row is not None, f"docs/errors.md has no row for {name}"
        assert len(row.split("|")) >= 6, f"the row for {name} needs its 'raised by' column"
