"""Call-level replay and record (`kmapsim.calls`, docs/model.md section 15): per-task lists of
kernel calls drive the tasks with mappings held across calls; recorded calls give the slots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import kmapsim
from kmapsim import Scenario
from kmapsim.calls import read_calls

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "calls_small.csv"
POOL = dict(cpus=1, last_pkmap=4, pages=16, hot_pages=0)


def kmap(page: int, work: int = 1) -> dict[str, object]:
    return {"op": "kmap", "page": page, "work": work}


def kunmap(page: int, work: int = 1) -> dict[str, object]:
    return {"op": "kunmap", "page": page, "work": work}


def slots(
    calls: dict[int, list[dict[str, object]]], **fields: object
) -> list[tuple[str, int, int]]:
    sc = Scenario(**{**POOL, **fields})  # type: ignore[arg-type]
    r = kmapsim.run(sc, cycles=1_000_000, replay_calls=calls, record_calls=True)
    assert r.calls is not None
    return list(zip(r.calls["op"], r.calls["page"], r.calls["slot"], strict=True))


def test_a_single_task_gets_the_slots_of_the_2_4_0_allocator() -> None:
    # Scan, 4 slots, cursor at 0 at boot: each new mapping advances first (slots 1, 2, 3); a
    # page still mapped (count 1 after its kunmap) gets its slot back without a scan; the
    # fourth new page moves the cursor from 3 to 0: a wrap, so the flush runs (nothing is
    # unused) and slot 0, free since boot, is taken.
    calls = {0: [kmap(1), kmap(2), kunmap(1), kmap(1), kmap(3), kmap(4), kunmap(2)]}
    assert slots(calls) == [
        ("kmap", 1, 1),
        ("kmap", 2, 2),
        ("kunmap", 1, 1),
        ("kmap", 1, 1),  # re-mapped before a flush: same slot
        ("kmap", 3, 3),
        ("kmap", 4, 0),  # the cursor wraps to slot 0
        ("kunmap", 2, 2),
    ]
    # Freelist: slot 0 first, then 1, 2; the unused slot 0 is shared back on the re-kmap.
    assert [s for _, _, s in slots(calls, slot_alloc="freelist")] == [0, 1, 0, 0, 2, 3, 1]


def test_shared_pages_count_above_two_and_the_flush_point_is_recorded() -> None:
    sc = Scenario(**POOL)  # type: ignore[arg-type]
    calls = {0: [kmap(1), kmap(1), kmap(2), kmap(3), kunmap(2), kunmap(3), kmap(4), kmap(5)]}
    r = kmapsim.run(sc, cycles=1_000_000, replay_calls=calls, record_calls=True)
    assert r.calls is not None
    kmaps = r.calls[r.calls["op"] == "kmap"]
    # Page 1 twice shares slot 1 (count 3); pages 2 and 3 take slots 2 and 3 and are kunmapped
    # (count 1). Page 4 moves the cursor from 3 to 0: the wrap flush clears slots 2 and 3, and
    # slot 0 is free. Page 5 steps over slot 1 (in use) to slot 2, cleared by that flush.
    assert list(kmaps["slot"]) == [1, 1, 2, 3, 0, 2]
    assert list(kmaps["flushed"]) == [False, False, False, False, True, False]
    assert r.counters["flushes"] == 1 and r.counters["slots_cleared"] == 2


def test_calls_as_a_dataframe_a_mapping_and_a_csv_file_run_alike(tmp_path: Path) -> None:
    frame = read_calls(EXAMPLE)
    assert list(frame.columns) == ["task", "op", "page", "work"]
    sc = Scenario(cpus=2, last_pkmap=4, pages=16, hot_pages=0)
    by_file = kmapsim.run(sc, cycles=200_000, replay_calls=EXAMPLE, record_calls=True)
    by_frame = kmapsim.run(sc, cycles=200_000, replay_calls=frame, record_calls=True)
    mapping = {
        int(t): [
            {"op": o, "page": int(p), "work": int(w)} for _, o, p, w in g.itertuples(index=False)
        ]
        for t, g in frame.groupby("task")
    }
    by_mapping = kmapsim.run(sc, cycles=200_000, replay_calls=mapping, record_calls=True)
    for r in (by_frame, by_mapping):
        assert r.calls is not None and by_file.calls is not None
        pd.testing.assert_frame_equal(r.calls, by_file.calls)
    assert by_file.counters["kmaps"] == 4 and by_file.counters["blocks"] == 1
    # Both tasks ran their lists to the end and exited: the CPUs idle.
    back = kmapsim.RunResult.from_dict(by_file.to_dict())
    assert back.calls is not None
    pd.testing.assert_frame_equal(back.calls, by_file.calls)


def test_a_task_holding_several_mappings_across_a_block_migrates_with_them() -> None:
    sc = Scenario(cpus=2, tasks=3, last_pkmap=8, pages=16, hot_pages=0)
    calls = {
        0: [
            kmap(1),
            kmap(2),
            {"op": "block", "work": 20_000},
            {"op": "access", "page": 1},
            kunmap(2),
            kunmap(1),
        ],
        1: [kmap(3), {"op": "block", "work": 30_000}, kunmap(3)],
        2: [kmap(4), {"op": "yield"}, {"op": "access", "page": 4}, kunmap(4)],
    }
    r = kmapsim.run(sc, cycles=200_000, replay_calls=calls, record_calls=True)
    assert r.calls is not None
    assert len(r.calls) == 8 and r.counters["stale_accesses"] == 0
    assert r.counters["blocks"] == 2 and r.counters["task_switches"] > 0


@pytest.mark.parametrize(
    ("calls", "words"),
    [
        ({0: [{"op": "kmapp", "page": 1}]}, "op 'kmapp'"),
        ({0: [kunmap(1)]}, "task 0, call 0 (kunmap): page 1, which the task does not hold"),
        ({0: [kmap(1), kunmap(1), {"op": "access", "page": 1}]}, "call 2 (access)"),
        ({0: [kmap(99)]}, "page 99"),
        ({0: [kmap(1, work=-1)]}, "work -1"),
        ({0: [kmap(1, work=1e300)]}, "work 1e+300"),  # as given, not 301 digits
        ({0: [{"op": "kmap", "page": True}]}, "page True"),  # a bool is no page
        ({0: [{"op": "block"}]}, "work 0"),
        ({3: [kmap(1)]}, "task 3"),
        ({0: [{"op": "kmap", "page": 1, "colour": 2}]}, "unknown column 'colour'"),
        ({2**40: [kmap(1)]}, f"task {2**40}"),
        ({0: [kmap(p) for p in range(1, 10)]}, "a ninth mapping"),
        (pd.DataFrame({"task": [0], "op": ["kmap"]}), "no column page, work"),
        ("nope", "nope"),
        (42, "got int"),
    ],
)
def test_bad_call_lists_name_the_task_and_call(calls: object, words: str) -> None:
    with pytest.raises(kmapsim.ScenarioError) as e:
        kmapsim.run(Scenario(**POOL), cycles=1000, replay_calls=calls)  # type: ignore[arg-type]
    assert e.value.field == "replay_calls" and words in str(e.value), str(e.value)


def test_bad_call_files_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.csv"
    bad.write_text("task,op,page\n0,kmap,1\n")
    with pytest.raises(kmapsim.ScenarioFileError, match="header"):
        read_calls(bad)
    bad.write_text("task,op,page,work\n0,kmap,1\n")
    with pytest.raises(kmapsim.ScenarioFileError, match="line 2 has 3 fields"):
        read_calls(bad)
    bad.write_text("task,op,page,work\n0,kmap,one,5\n")
    with pytest.raises(kmapsim.ScenarioError, match="line 2: page 'one'"):
        read_calls(bad)
    # Only ASCII digits: Python's int() would also read these.
    for work in ("1_000", "\uff11", "1e3", "+5"):
        bad.write_text(f"task,op,page,work\n0,kmap,1,{work}\n", encoding="utf-8")
        with pytest.raises(kmapsim.ScenarioError, match="line 2: work"):
            read_calls(bad)


def test_call_lists_replace_dbench_only_and_not_with_operation_lists() -> None:
    sc = Scenario(workload="pte-highmem", cpus=1, pages=64, hot_pages=0)
    with pytest.raises(kmapsim.ScenarioError, match="dbench"):
        kmapsim.run(sc, cycles=1000, replay_calls={0: [kmap(1)]})
    with pytest.raises(kmapsim.ScenarioError, match="without replay"):
        kmapsim.run(
            Scenario(**POOL),  # type: ignore[arg-type]
            cycles=1000,
            replay={0: [{"work": 5, "page": 1}]},
            replay_calls={0: [kmap(1)]},
        )


def test_a_simulation_takes_call_lists_too() -> None:
    sim = kmapsim.Simulation(Scenario(**POOL), replay_calls={0: [kmap(1), kunmap(1)]})  # type: ignore[arg-type]
    sim.advance(10_000)
    assert sim.result().counters["kunmaps"] == 1


def test_the_command_line_replays_and_records_calls(tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    cmd = [sys.executable, "-m", "kmapsim", "run", "--cpus", "2", "--set", "last_pkmap=4"]
    cmd += ["--set", "pages=16", "--set", "hot_pages=0", "--cycles", "200000"]
    cmd += ["--replay-calls", str(EXAMPLE), "--record-calls", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert f"wrote {out}: 8 calls" in p.stdout
    recorded = pd.read_csv(out)
    assert list(recorded.columns) == list(kmapsim.calls.RECORD_COLUMNS)
    bad = subprocess.run(
        [*cmd[:-4], "--replay-calls", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "missing.csv" in bad.stderr
