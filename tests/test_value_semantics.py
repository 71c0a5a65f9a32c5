"""Results as values: equality and hash leave wall times out, a witness compares by its
fields, and a run's record is not edited field by field."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

import kmapsim


def test_identical_checks_are_equal_and_hash_alike() -> None:
    a = kmapsim.check(strategy="async", cpus=2, slots=2, pages=3)
    b = kmapsim.check(strategy="async", cpus=2, slots=2, pages=3)
    b = dataclasses.replace(b, seconds=a.seconds + 1.0, witness_seconds=a.witness_seconds + 1.0)
    assert a == b and hash(a) == hash(b)
    assert a != dataclasses.replace(a, states=a.states + 1)


def test_a_witness_equals_its_copies() -> None:
    w = kmapsim.check(strategy="async", cpus=2, slots=2, pages=3).witness
    assert w is not None
    for other in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w)):
        assert other == w and hash(other) == hash(w)
    assert dataclasses.replace(w, seed=w.seed + 1) != w
    # The rows are gathered once (equality and hash read them), and a witness made anew from
    # the same fields equals one whose rows are gathered already.
    assert w._key() is w._key()
    fresh = dataclasses.replace(w)
    assert "_key_cached" not in fresh.__dict__ and fresh == w and hash(fresh) == hash(w)


def test_a_run_result_is_not_edited_field_by_field() -> None:
    r = kmapsim.run(kmapsim.Scenario(cpus=2), cycles=10_000)
    with pytest.raises(TypeError, match="record of a run"):
        dataclasses.replace(r, cycles=5)
    with pytest.raises(TypeError, match="record of a run"):
        r.__replace__(cycles=5)
    back = pickle.loads(pickle.dumps(r))
    assert back.cycles == r.cycles and copy.deepcopy(r).cycles == r.cycles
    assert kmapsim.RunResult.from_dict(r.to_dict()).cycles == r.cycles


def test_a_frame_given_to_a_frozen_value_is_its_own_copy() -> None:
    """Changing the frame a witness, a sweep result or a snapshot was made from changes none
    of them (nor a witness's cached equality)."""
    from kmapsim.checker import Witness

    w = kmapsim.check(strategy="async", cpus=2, slots=2, pages=3).witness
    assert w is not None
    df = w.calls
    made = Witness(w.scenario, df, w.seed, w.cycles, w.tries)
    assert made == w
    df.loc[0, "work"] = 999_999
    assert made == w and made.calls.loc[0, "work"] != 999_999
    sweep = kmapsim.sweep(kmapsim.Scenario(cpus=2), cycles=1000, progress=False)
    frame = sweep.frame
    copy = dataclasses.replace(sweep, frame=frame)
    frame.loc[0, "cpus"] = 99
    assert copy.frame.loc[0, "cpus"] == 2


def test_a_frame_built_for_the_value_is_not_copied() -> None:
    """The constructors that build a frame for the value (a sweep, a snapshot, a witness) keep
    it (`owned_frames`); one given by a caller is copied."""
    from kmapsim._frozen import owned_frames

    sweep = kmapsim.sweep(kmapsim.Scenario(cpus=2), cycles=1000, progress=False)
    frame = sweep.frame
    with owned_frames():
        kept = dataclasses.replace(sweep, frame=frame)
    assert kept.__dict__["frame"] is frame
    assert dataclasses.replace(sweep, frame=frame).__dict__["frame"] is not frame


def test_the_constructors_that_build_a_frame_hand_it_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's result, a snapshot and a witness keep the frame built for them (no copy)."""
    from kmapsim import _frozen
    from kmapsim.checker import check_machine

    owned: list[bool] = []
    keep = _frozen.CopiedField.__set__

    def record(self: Any, obj: Any, value: Any) -> None:
        owned.append(_frozen._OWNED.get())
        keep(self, obj, value)

    monkeypatch.setattr(_frozen.CopiedField, "__set__", record)
    kmapsim.sweep(kmapsim.Scenario(cpus=2), cycles=1000, progress=False)
    sim = kmapsim.Simulation(kmapsim.Scenario(cpus=2))
    sim.advance(1000)
    sim.snapshot()
    assert kmapsim.check(check_machine("async")).witness is not None
    assert owned == [True, True, True], owned
