"""Hostile input to tasks, programs and call lists, found by trying them as a new user would:
each case was a hang, a silently wrong number or a traceback, and is now a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kmapsim
from kmapsim import Scenario

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "calls_small.csv"


@pytest.mark.parametrize(
    "program",
    ["kmap prob=0", "work prob=0; kmap prob=0", "kmap prob=0.5; kunmap prob=0.5"],
)
def test_a_program_whose_every_kmap_may_be_skipped_is_refused(program: str) -> None:
    with pytest.raises(kmapsim.ScenarioError, match="no kmap step that is always taken"):
        Scenario(cpus=1, tasks=1, program=program)


@pytest.mark.parametrize(
    "program",
    [
        "kmap; irq_disable; irq_enable; repeat to=1 times=4000000000; kunmap",
        "kmap; work prob=0; repeat to=1 times=4000000000; kunmap",
    ],
)
@pytest.mark.parametrize("mode", ["skip", "step"])
def test_a_program_that_loops_without_time_passing_stops_with_an_error(
    program: str, mode: str
) -> None:
    # Before: an endless loop within one cycle that neither Ctrl-C nor max_wall_seconds stopped.
    sc = Scenario(cpus=1, tasks=1, program=program)
    with pytest.raises(kmapsim.ScenarioError, match="without a cycle passing") as e:
        kmapsim.run(sc, cycles=10_000, mode=mode, max_wall_seconds=60)
    assert e.value.field == "program"


@pytest.mark.parametrize("page", [2**64 + 5, 2**70, 2**32, -1])
def test_a_page_number_past_any_pool_is_refused_not_wrapped(page: int) -> None:
    with pytest.raises(kmapsim.ScenarioError) as e:
        Scenario(cpus=1, tasks=1, program=[{"op": "kmap", "page": page}, {"op": "kunmap"}])
    assert e.value.field == "program step 0 (kmap): page", str(e.value)


@pytest.mark.parametrize(
    ("text", "field"),
    [("kmap page=5 page=6; kunmap", '"page"'), ("kmap op=kunmap; kmap; kunmap", '"op"')],
)
def test_a_field_given_twice_in_the_one_line_form_is_refused(text: str, field: str) -> None:
    with pytest.raises(kmapsim.ScenarioError, match=f"{field} is given twice"):
        Scenario(program=text)


@pytest.mark.parametrize(
    "program",
    [
        "kmap handle=\udcff; kunmap handle=\udcff",
        [{"op": "kmap", "handle": "\udcff"}, {"op": "kunmap", "handle": "\udcfe"}],
        [{"op": "kmap", "\udcff": 1}],
        [[("op", "kmap"), ("handle", "\udcff")]],
    ],
)
def test_text_that_is_not_unicode_is_refused_by_name(program: object) -> None:
    # Before: a UnicodeEncodeError, or two different handles read as one (U+FFFD).
    with pytest.raises(kmapsim.ScenarioError, match="not text"):
        Scenario(program=program)  # type: ignore[arg-type]


def test_the_command_line_refuses_a_program_that_is_not_utf8() -> None:
    arg = os.fsdecode(b"kmap handle=\xff; kunmap handle=\xff")
    p = subprocess.run(
        [sys.executable, "-m", "kmapsim", "run", "--program", arg, "--cycles", "1000"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 2, p.stderr
    assert "not text" in p.stderr and "Traceback" not in p.stderr


def test_file_read_needs_hot_pages_like_a_hot_kmap() -> None:
    # Before: with no hot page it silently read cold pages.
    with pytest.raises(kmapsim.ScenarioError, match="hot_pages = 0"):
        Scenario(cpus=2, workload="file-read", hot_pages=0, pages=64)


def test_operations_recorded_with_more_tasks_than_cpus_replay_exactly() -> None:
    sc = Scenario(cpus=4, tasks=16)
    a = kmapsim.run(sc, cycles=1_000_000, seed=2, record_ops=True)
    assert a.ops is not None and a.ops["cpu"].max() >= 4  # a list per task
    b = kmapsim.run(sc, cycles=1_000_000, seed=2, replay=a.ops)
    assert a.counters == b.counters and a.breakdown_rows == b.breakdown_rows
    with pytest.raises(kmapsim.ScenarioError, match="a task below tasks = 16"):
        kmapsim.run(sc, cycles=1000, replay={16: [{"work": 5, "page": 1}]})


def test_recording_operations_of_a_call_list_is_refused() -> None:
    # Before: two made-up operations.
    sc = Scenario(cpus=2, pages=16, hot_pages=0, last_pkmap=4)
    with pytest.raises(kmapsim.ScenarioError, match="record_ops"):
        kmapsim.run(sc, cycles=100_000, replay_calls=EXAMPLE, record_ops=True)


def test_a_call_list_for_another_workload_says_call_list() -> None:
    sc = Scenario(cpus=1, program="kmap; kunmap")
    with pytest.raises(kmapsim.ScenarioError, match="call lists with workload") as e:
        kmapsim.run(sc, cycles=1000, replay_calls={0: [{"op": "kmap", "page": 1}]})
    assert "replaces the program" in e.value.allowed


def test_mappings_left_held_by_exited_tasks_are_a_pool_exhaustion() -> None:
    # Five tasks each kmap one page and exit holding it: the fifth sleeps forever on 4 slots.
    sc = Scenario(cpus=5, last_pkmap=4, pages=16, hot_pages=0)
    calls = {i: [{"op": "kmap", "page": i}] for i in range(5)}
    with pytest.raises(kmapsim.DeadlockError) as e:
        kmapsim.run(sc, cycles=1_000_000, replay_calls=calls)
    assert e.value.pool_exhausted and "1 task asleep" in str(e.value)
    assert "(the sleepers hold 0 of them; tasks that exited hold 4)" in str(e.value)


def test_a_call_list_names_a_page_of_none_as_minus_one() -> None:
    with pytest.raises(kmapsim.ScenarioError, match=r"kmap\): page -1") as e:
        kmapsim.run(Scenario(cpus=1), cycles=1000, replay_calls={0: [{"op": "kmap"}]})
    assert "4294967295" not in str(e.value)


def test_a_slot_shared_with_a_sleeper_is_counted_once() -> None:
    """Task 1 sleeps holding page 0's slot, which task 0 (exited) shares: 3 + 1 of 4 slots."""
    sc = Scenario(cpus=2, tasks=2, last_pkmap=4)
    calls = {
        0: [{"op": "kmap", "page": 0, "work": 10}, {"op": "kmap", "page": 3, "work": 10}],
        1: [
            {"op": "kmap", "page": p, "work": w} for p, w in ((0, 1000), (1, 10), (2, 10), (4, 10))
        ],
    }
    with pytest.raises(kmapsim.DeadlockError) as e:
        kmapsim.run(sc, cycles=100_000, replay_calls=calls)
    assert "(the sleepers hold 3 of them; tasks that exited hold 1)" in str(e.value), str(e.value)


def test_a_pool_held_by_exited_tasks_has_no_wait_for_cycle() -> None:
    """Only sleepers holding every slot wait for each other; here task 0 exited holding three
    slots, and task 1 sleeps holding the fourth."""
    sc = Scenario(cpus=2, tasks=2, last_pkmap=4, pages=16, hot_pages=0)
    calls = {0: [{"op": "kmap", "page": p} for p in (0, 1, 2)], 1: [{"op": "kmap", "page": 3}] * 1}
    calls[1].append({"op": "kmap", "page": 4})
    with pytest.raises(kmapsim.DeadlockError) as e:
        kmapsim.run(sc, cycles=1_000_000, replay_calls=calls)
    assert e.value.pool_exhausted and e.value.chain == []
    assert "two-kmap" not in str(e.value) and "tasks that exited hold 3" in str(e.value)
