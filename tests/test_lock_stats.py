"""Lock statistics in lockmeter's terms (`RunResult.lock_stats`, `kmapsim run --locks`,
docs/model.md section 9), checked on small cases whose every cycle is computed by hand."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import kmapsim
from kmapsim import RunResult, Scenario
from kmapsim.lockstat import LOCK_STAT_COLUMNS, lockmeter_text

# Two CPUs, a 4-slot pool and the default lock costs: acquire 30, hand-off 250, a new mapping
# 120 plus 4 per scanned slot.
POOL = dict(cpus=2, last_pkmap=4, pages=16, hot_pages=0, cpu_mhz=1000.0)


def one_holder_one_spinner() -> RunResult:
    # Task 0 asks for kmap_lock at cycle 1 and finds it free: it runs under the lock from 31
    # (after the 30-cycle acquire) and holds it 124 cycles (kmap_new 120 + one scanned slot),
    # to 155. Task 1 asks at 11, spins until 155, pays the 250-cycle hand-off and runs under the
    # lock from 405: a wait of 394 cycles; it too holds it 124 cycles.
    calls = {0: [{"op": "kmap", "page": 1, "work": 1}], 1: [{"op": "kmap", "page": 2, "work": 11}]}
    return kmapsim.run(Scenario(**POOL), cycles=10_000, replay_calls=calls)  # type: ignore[arg-type]


def test_one_holder_and_one_spinner_give_lockmeters_figures() -> None:
    row = one_holder_one_spinner().lock_stats.loc["kmap_lock"]
    assert row["acquisitions"] == 2
    assert row["contended"] == 1
    assert row["contended_pct"] == 50.0
    assert row["hold_mean_cycles"] == 124.0
    assert row["hold_max_cycles"] == 124
    assert row["wait_mean_cycles"] == 394.0
    assert row["wait_max_cycles"] == 394
    # UTIL: 248 held cycles of 10,000; spin: 394 of 2 x 10,000 CPU cycles.
    assert row["util_pct"] == pytest.approx(2.48)
    assert row["spin_cpu_pct"] == pytest.approx(1.97)
    # At 1000 MHz a microsecond is 1,000 cycles; 10,000 cycles are 10 us.
    assert row["hold_mean_us"] == pytest.approx(0.124)
    assert row["wait_max_us"] == pytest.approx(0.394)
    assert row["acquisitions_per_s"] == pytest.approx(2 / 10e-6)


def test_the_frame_has_a_row_per_lock_and_the_documented_columns() -> None:
    r = kmapsim.run(Scenario(irq_locks=3), cycles=2_000_000, seed=1)
    frame = r.lock_stats
    assert list(frame.index) == [
        "kmap_lock",
        "call_lock",
        "irq_lock[0]",
        "irq_lock[1]",
        "irq_lock[2]",
    ]
    assert frame.index.name == "lock"
    assert tuple(frame.columns) == LOCK_STAT_COLUMNS
    assert frame["acquisitions"].dtype.kind == "i"
    # kmap_lock's row is the kmap_lock histograms, read as lockmeter reads them.
    wait, hold = r.histograms["kmap_lock_wait"], r.histograms["kmap_lock_hold"]
    kmap = frame.loc["kmap_lock"]
    assert kmap["acquisitions"] == wait.count
    assert kmap["wait_mean_cycles"] == pytest.approx(wait.sum / kmap["contended"])
    assert kmap["hold_mean_cycles"] == pytest.approx(hold.mean)
    assert kmap["util_pct"] == pytest.approx(100 * hold.sum / r.cycles)
    # Every interrupts-off section takes one of the irq locks.
    irq = frame.loc[[f"irq_lock[{k}]" for k in range(3)], "acquisitions"].sum()
    assert r.counters["irq_sections"] - r.cpus <= irq <= r.counters["irq_sections"]
    # call_lock is taken once per synchronous shootdown.
    assert abs(frame.loc["call_lock", "acquisitions"] - r.counters["flushes"]) <= 1


def test_an_interrupts_off_lock_held_by_one_and_awaited_by_another() -> None:
    # Both tasks take irq_lock[0] at cycle 0 for a fixed 1,000 cycles. They ask in the same
    # cycle, so the winner competed: both acquisitions count as contended (the winner waited
    # its 250-cycle hand-off, the loser the winner's whole hold as well).
    program = (
        "irq_section lock=0 cycles=1000 dist=fixed; work cycles=1000000 dist=fixed; kmap; kunmap"
    )
    sc = Scenario(cpus=2, irq_locks=1, program=program, workload="custom")
    row = kmapsim.run(sc, cycles=100_000).lock_stats.loc["irq_lock[0]"]
    assert (row["acquisitions"], row["contended"]) == (2, 2)
    assert row["hold_max_cycles"] == 1000
    assert row["util_pct"] == pytest.approx(2.0)
    assert row["wait_max_cycles"] == 250 + 1000 + 250
    assert row["wait_mean_cycles"] == (250 + 1500) / 2


def test_lock_stats_survive_to_dict_and_json() -> None:
    r = one_holder_one_spinner()
    back = RunResult.from_dict(json.loads(json.dumps(r.to_dict(), allow_nan=False)))
    assert back.lock_stats.equals(r.lock_stats)
    old = r.to_dict()
    del old["lock_stats"]
    assert RunResult.from_dict(old).lock_stats.empty


def test_sweep_rows_carry_kmap_lock_figures() -> None:
    frame = kmapsim.sweep(
        Scenario(cpus=4), grid={"strategy": ["sync", "lazy"]}, cycles=2_000_000, progress=False
    ).frame
    for col in ("kmap_lock_util_pct", "kmap_lock_contended_pct", "kmap_lock_wait_max_us"):
        assert frame[col].notna().all(), col
    assert (frame["kmap_lock_util_pct"] > 0).all()


def test_lockmeter_text_has_lockmeters_columns() -> None:
    r = one_holder_one_spinner()
    text = lockmeter_text(r.lock_stats_rows, r.cycles, r.scenario.cpu_mhz)
    lines = text.splitlines()
    assert "UTIL" in lines[1] and "NOWAIT" in lines[1] and "NAME" in lines[1]
    kmap = next(line for line in lines if line.endswith("kmap_lock"))
    assert kmap.split()[:2] == ["2.5%", "50.0%"]
    assert "0.1us(0.1us)" in kmap and "0.4us(0.4us)(1.97%)" in kmap
    # Locks never taken are left out, as lockmeter leaves them out.
    assert "call_lock" not in text


def test_kmapsim_run_locks_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kmapsim", "run", "--cpus", "4", "--cycles", "1000000", "--locks"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SPINLOCKS" in out and "kmap_lock" in out and "MEAN(MAX)(%CPU)" in out


def test_waits_still_open_at_the_end_count_in_the_spin_share_and_the_maxima() -> None:
    # A hand-off so dear that almost nobody gets kmap_lock: the CPUs spin all run long, and
    # lock_stats must say so (the waits never complete, so they are in no mean).
    sc = Scenario(
        lock_handoff_per_waiter_cycles=10**9,
        irq_locks=0,
        irq_section_prob=0.0,
        work_dist="fixed",
        work_cycles=1,
    )
    r = kmapsim.run(sc, cycles=10_000_000, seed=1)
    row = r.lock_stats.loc["kmap_lock"]
    spinning = r.shares()["kmap_spin"].mean() * 100
    assert spinning > 99
    assert row["spin_cpu_pct"] == pytest.approx(spinning, abs=0.5)
    assert row["wait_max_cycles"] >= 9_000_000
    text = lockmeter_text(r.lock_stats_rows, r.cycles, sc.cpu_mhz)
    assert "kmap_lock" in text and "no lock" not in text


def test_a_hold_still_open_at_the_end_counts_in_util_and_the_maximum() -> None:
    # One CPU holds irq_lock[0] for 10^7 cycles from cycle 0; the run stops at 10^6.
    program = "irq_section lock=0 cycles=10000000 dist=fixed; kmap; kunmap"
    sc = Scenario(cpus=1, irq_locks=1, program=program, workload="custom")
    row = kmapsim.run(sc, cycles=1_000_000).lock_stats.loc["irq_lock[0]"]
    assert row["acquisitions"] == 1
    assert row["util_pct"] == pytest.approx(100 * (1_000_000 - 30) / 1_000_000)
    assert row["hold_max_cycles"] == 1_000_000 - 30
    assert row["hold_mean_cycles"] == 0  # no hold has ended


def test_a_result_of_no_cycle_has_zero_rates_not_a_division_error() -> None:
    from kmapsim.sweep import row_of

    r = kmapsim.Simulation(Scenario(), seed=1).result()
    assert (r.throughput, r.kmaps_per_second, r.mb_per_second) == (0.0, 0.0, 0.0)
    json.dumps(r.to_dict(), allow_nan=False)
    assert r.summary()["throughput"] == 0.0
    assert row_of(r)["share_work"] == 0.0
    assert (r.lock_stats["util_pct"] == 0).all()


def test_kmapsim_run_json_locks_adds_the_figures() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kmapsim", "run", "--cycles", "1000000", "--json", "--locks"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = json.loads(out)["lockmeter"]
    assert rows[0]["lock"] == "kmap_lock" and set(LOCK_STAT_COLUMNS) <= set(rows[0])


@pytest.mark.parametrize(
    ("cycles", "cpu_mhz", "field"),
    [
        (100_000, True, "cpu_mhz"),  # not 1 MHz
        (100_000, 0, "cpu_mhz"),  # was a ZeroDivisionError
        (100_000, "700", "cpu_mhz"),
        (100_000, -700.0, "cpu_mhz"),
        (100_000, float("nan"), "cpu_mhz"),
        (100_000, 10**400, "cpu_mhz"),
        (True, 700.0, "cycles"),  # not 1 cycle
        (2.7, 700.0, "cycles"),
        (-1, 700.0, "cycles"),
        (10**300, 700.0, "cycles"),  # not 301 digits
    ],
)
def test_lockmeter_text_checks_its_cycles_and_clock(
    cycles: object, cpu_mhz: object, field: str
) -> None:
    rows = kmapsim.run(Scenario(cpus=2), cycles=100_000).lock_stats_rows
    with pytest.raises(kmapsim.ScenarioError) as e:
        lockmeter_text(rows, cycles, cpu_mhz)  # type: ignore[arg-type]
    assert e.value.field == field and len(str(e.value)) < 200
