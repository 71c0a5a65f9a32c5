"""Scenario and presets: the Python field list agrees with the engine's table, and bad input is
rejected with a ScenarioError that names the field and what is allowed."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kmapsim
from kmapsim import Scenario, ScenarioError, _core
from kmapsim.presets import PRESETS, describe_preset, preset_names

SPECS = Scenario.fields()
BY_NAME = {s["name"]: s for s in SPECS}
NUMERIC = [s for s in SPECS if s["kind"] in ("int", "float")]
CHOICES = [s for s in SPECS if s["kind"] == "choice"]
# Fields bound to others by a cross-field rule of Scenario::validate (config.rs): a value in the
# field's own range may still be rejected, so the "any in-range value" property skips them.
COUPLED = {"last_pkmap", "pages", "hot_pages", "copy_lookups", "copy_cycles", "irq_locks"}
FREE = [s for s in NUMERIC if s["name"] not in COUPLED]
PYTYPE = {"int": int, "float": float, "choice": str}


# -- agreement with the engine's table ------------------------------------------------------------


#: Dataclass fields that are not in the engine's table: the program of the custom workload,
#: which is a list of steps rather than one value (the class docstring says so).
NOT_IN_TABLE = ["program"]


def test_field_names_and_order_match_engine_table() -> None:
    names = [f.name for f in dataclasses.fields(Scenario)]
    assert names == [s["name"] for s in SPECS] + NOT_IN_TABLE
    assert all(name in (Scenario.__doc__ or "") for name in NOT_IN_TABLE)
    assert Scenario().program is None and "program" not in Scenario().to_dict()


def test_defaults_match_engine_table() -> None:
    sc = Scenario()
    for spec in SPECS:
        value = getattr(sc, spec["name"])
        assert value == spec["default"], spec["name"]
        assert type(value) is type(spec["default"]), spec["name"]


def test_annotations_match_field_kinds() -> None:
    for f in dataclasses.fields(Scenario):
        if f.name not in NOT_IN_TABLE:
            assert f.type == PYTYPE[BY_NAME[f.name]["kind"]].__name__, f.name


def test_specs_are_well_formed() -> None:
    for spec in SPECS:
        assert set(spec) >= {"name", "kind", "min", "max", "choices", "unit", "doc", "default"}
        assert spec["doc"], spec["name"]
        if spec["kind"] == "choice":
            assert spec["choices"] and spec["default"] in spec["choices"]
        else:
            lo, hi, default = spec["min"], spec["max"], spec["default"]
            assert lo is not None and hi is not None and not isinstance(default, str)
            assert lo <= default <= hi, spec["name"]


def test_engine_normalises_defaults_to_themselves() -> None:
    d = Scenario().to_dict()
    assert _core.validate(d) == d
    assert _core.validate({}) == d


def test_fields_returns_copies() -> None:
    Scenario.fields()[0]["name"] = "mangled"
    assert Scenario.fields()[0]["name"] == SPECS[0]["name"]


# -- value behaviour ------------------------------------------------------------------------------


def test_frozen_and_slotted() -> None:
    sc = Scenario()
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.cpus = 4  # type: ignore[misc]
    assert not hasattr(sc, "__dict__")


def test_equality_hash_and_normalisation() -> None:
    a = Scenario(cpus=4, cpu_mhz=700)
    b = Scenario(cpus=np.int64(4), cpu_mhz=np.float64(700.0))  # type: ignore[arg-type]
    assert a == b and hash(a) == hash(b)
    assert type(b.cpus) is int and type(a.cpu_mhz) is float
    assert a != Scenario(cpus=5)


def test_replace() -> None:
    sc = Scenario()
    sc2 = sc.replace(cpus=16, lock_arbitration="fifo")
    assert (sc2.cpus, sc2.lock_arbitration) == (16, "fifo")
    assert sc.cpus == 8 and sc == Scenario()
    with pytest.raises(ScenarioError) as ei:
        sc.replace(cpus=0)
    assert ei.value.field == "cpus"


def test_replace_unknown_field_suggests() -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario().replace(cpu=4)
    assert ei.value.field == "cpu"
    assert "did you mean 'cpus'" in str(ei.value)
    assert "cpus" in ei.value.allowed


def test_dict_round_trip() -> None:
    sc = Scenario(cpus=2, tlb_entries=16, shared_page_prob=0.5, lock_arbitration="fifo")
    d = sc.to_dict()
    assert list(d) == [s["name"] for s in SPECS]
    assert Scenario.from_dict(d) == sc
    assert Scenario.from_dict({"cpus": 2}) == Scenario(cpus=2)


def test_from_dict_rejects_unknown_and_non_mapping() -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_dict({"cpus": 2, "tlb_entires": 8})
    assert ei.value.field == "tlb_entires"
    assert "did you mean 'tlb_entries'" in str(ei.value)
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_dict({3: 4})  # type: ignore[dict-item]
    assert ei.value.field == "3"
    with pytest.raises(ScenarioError):
        Scenario.from_dict([("cpus", 2)])  # type: ignore[arg-type]


def test_pickle_and_copy() -> None:
    sc = Scenario(cpus=3, shared_page_prob=0.125)
    assert pickle.loads(pickle.dumps(sc)) == sc
    assert copy.deepcopy(sc) == sc and copy.copy(sc) == sc


def test_repr_shows_changes_only() -> None:
    assert repr(Scenario()) == "Scenario()"
    assert repr(Scenario(cpus=4, strategy="sync")) == "Scenario(cpus=4)"
    assert repr(Scenario(shared_page_prob=0.5)) == "Scenario(shared_page_prob=0.5)"


# -- presets --------------------------------------------------------------------------------------


def test_default_preset_is_the_defaults() -> None:
    assert "pIII-8way-2001" in preset_names()
    assert kmapsim.preset_names() == preset_names()
    assert Scenario.preset("pIII-8way-2001") == Scenario()
    assert "700 MHz" in describe_preset("pIII-8way-2001")


def test_preset_overrides() -> None:
    sc = Scenario.preset("pIII-8way-2001", cpus=2, lock_arbitration="fifo")
    assert sc == Scenario(cpus=2, lock_arbitration="fifo")
    with pytest.raises(ScenarioError) as ei:
        Scenario.preset("pIII-8way-2001", cpuz=2)
    assert ei.value.field == "cpuz"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_is_documented(name: str) -> None:
    assert set(PRESETS[name].values) <= set(BY_NAME)
    Scenario.preset(name)
    assert len(describe_preset(name)) > 20


def test_unknown_preset() -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario.preset("pIII-8way-2010")
    e = ei.value
    assert e.field == "preset"
    assert "did you mean 'pIII-8way-2001'" in str(e)
    assert "pIII-8way-2001" in e.allowed
    with pytest.raises(ScenarioError):
        describe_preset("nope")


# -- bad values -----------------------------------------------------------------------------------

BAD: list[tuple[str, Any]] = [
    ("cpus", True),
    ("cpus", np.bool_(False)),
    ("cpus", 8.0),
    ("cpus", "8"),
    ("cpus", None),
    ("cpus", [8]),
    ("cpus", 0),
    ("cpus", -1),
    ("cpus", 5000),
    ("cpus", 2**200),
    ("tlb_entries", 0),
    ("max_violation_records", -5),
    ("watchdog_cycles", 2**62 + 1),
    ("cpu_mhz", math.nan),
    ("cpu_mhz", math.inf),
    ("cpu_mhz", -math.inf),
    ("cpu_mhz", 0.0),
    ("cpu_mhz", -700.0),
    ("cpu_mhz", True),
    ("cpu_mhz", "fast"),
    ("cpu_mhz", 10**400),
    ("shared_page_prob", 1.5),
    ("shared_page_prob", -0.1),
    ("shared_page_prob", math.nan),
    ("shared_page_prob", np.float64("nan")),
    ("strategy", "fast"),
    ("strategy", "SYNC"),
    ("strategy", 1),
    ("strategy", None),
    ("strategy", True),
    ("lock_arbitration", "ticket"),
    ("last_pkmap", 1000),  # in range, but not a power of two
    ("hot_pages", 70_000),  # in range, but more than `pages`
    ("copy_lookups", 3000),  # in range, but more than `copy_cycles`
]


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}={v!r}"[:40] for f, v in BAD])
def test_bad_value_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario(**{field: value})
    e = ei.value
    assert isinstance(e, ValueError) and isinstance(e, kmapsim.KmapsimError)
    assert e.field == field
    assert e.problem and e.allowed
    assert str(e).startswith(field)


def test_a_huge_integer_is_shown_by_its_size_not_as_inf() -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario(cpu_mhz=10**400)
    assert ei.value.problem == "<integer of about 401 digits> is out of range"


def test_range_is_in_the_message() -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario(cpus=0)
    assert "[1, 4096]" in ei.value.allowed
    with pytest.raises(ScenarioError) as ei:
        Scenario(strategy="fsat")
    assert "sync" in ei.value.allowed


def test_irq_section_needs_irq_locks() -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario(irq_locks=0)
    assert ei.value.field == "irq_section_prob"
    Scenario(irq_locks=0, irq_section_prob=0.0)


# -- properties -----------------------------------------------------------------------------------


def _in_range(spec: Any) -> st.SearchStrategy[Any]:
    if spec["kind"] == "int":
        return st.integers(spec["min"], spec["max"])
    return st.floats(spec["min"], spec["max"], allow_nan=False)


@given(st.sampled_from(FREE).flatmap(lambda s: st.tuples(st.just(s["name"]), _in_range(s))))
def test_any_in_range_value_is_accepted(item: tuple[str, Any]) -> None:
    name, value = item
    sc = Scenario(**{name: value})
    assert getattr(sc, name) == value
    assert Scenario.from_dict(sc.to_dict()) == sc


def _out_of_range(spec: Any) -> st.SearchStrategy[Any]:
    lo, hi = spec["min"], spec["max"]
    if spec["kind"] == "int":
        return st.integers(max_value=lo - 1) | st.integers(min_value=hi + 1)
    return (
        st.floats(max_value=lo, exclude_max=True)
        | st.floats(min_value=hi, exclude_min=True)
        | st.just(math.nan)
    )


@given(st.sampled_from(NUMERIC).flatmap(lambda s: st.tuples(st.just(s["name"]), _out_of_range(s))))
def test_out_of_range_is_rejected(item: tuple[str, Any]) -> None:
    name, value = item
    with pytest.raises(ScenarioError) as ei:
        Scenario(**{name: value})
    assert ei.value.field == name


JUNK = st.one_of(
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.binary(max_size=4),
)


@given(st.sampled_from(SPECS), JUNK)
def test_wrong_types_are_rejected(spec: Any, value: Any) -> None:
    if spec["kind"] == "choice" and value in spec["choices"]:
        return
    with pytest.raises(ScenarioError) as ei:
        Scenario(**{spec["name"]: value})
    assert ei.value.field == spec["name"]


@given(st.text(min_size=1, max_size=20).filter(lambda k: k not in BY_NAME))
def test_unknown_keys_are_rejected_by_name(key: str) -> None:
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_dict({key: 1})
    assert ei.value.field == key
