"""What docs/validation.md reports, pinned: the counterexample it prints, and its scripts run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kmapsim
from kmapsim import Scenario, StaleAccess

SCRIPTS = Path(__file__).resolve().parent.parent / "docs" / "scripts"

#: The shortest counterexample docs/scripts/safety.py finds for `async` (validation.md, Safety).
COUNTEREXAMPLE = Scenario(
    strategy="async",
    cpus=2,
    last_pkmap=2,
    pages=16,
    hot_pages=2,
    shared_page_prob=0.5,
    work_dist="fixed",
    work_cycles=200,
    ipi_latency=1000,
    copy_lookups=2,
    tlb_evict_rate=0.0,
    irq_section_prob=0.0,
    ctx_switch_prob=0.0,
)
SEED = 35


def test_async_counterexample_is_pinned() -> None:
    r = kmapsim.run(COUNTEREXAMPLE, cycles=5165, seed=SEED, trace=10_000)
    assert r.counters["stale_accesses"] == 1
    assert r.violations[0] == StaleAccess(
        cycle=5164,
        cpu=0,
        slot=0,
        expected_page=0,
        actual_page=1,
        entry_loaded_at=1460,
        slot_remapped_at=4734,
        remapped_by=1,
    )
    ev = r.trace[r.trace.event != "state"]
    # The race as validation.md tells it: cpu1 flushes and sends the IPI to cpu0, remaps slot 0,
    # and cpu0 reaches slot 0 through the sharing path before the IPI arrives.
    sent = ev[(ev.event == "ipi_sent") & (ev.cycle == 4234)].iloc[0]
    assert sent.cpu == 1 and sent.fields == {"to": 0, "arrival": 5534, "call": 2}
    shared = ev[(ev.event == "mapped") & (ev.cpu == 0)].iloc[-1]
    assert (shared.cycle, shared.fields) == (5104, {"slot": 0, "page": 0, "shared": 1})
    assert not ((ev.event == "ipi_arrived") & (ev.cpu == 0)).any(), "the IPI is still in flight"


@pytest.mark.parametrize("strategy", ["sync", "guarded", "lazy", "targeted", "local"])
def test_the_counterexample_is_harmless_under_the_safe_strategies(strategy: str) -> None:
    r = kmapsim.run(COUNTEREXAMPLE.replace(strategy=strategy), cycles=2_000_000, seed=SEED)
    assert r.counters["stale_accesses"] == 0
    assert r.counters["kmaps"] > 500


def test_the_race_is_not_a_one_off() -> None:
    """Most seeds of the same scenario read a stale entry within 2M cycles."""
    hits = [
        kmapsim.run(COUNTEREXAMPLE, cycles=2_000_000, seed=s).counters["stale_accesses"] > 0
        for s in range(12)
    ]
    assert sum(hits) >= 8, hits


@pytest.mark.parametrize(
    "script",
    ["safety.py", "scaling.py", "freelist.py", "calibration.py", "lockmeter.py", "designs.py"],
)
def test_validation_scripts_run(script: str) -> None:
    args = [sys.executable, str(SCRIPTS / script)]
    args += ["--check"] if script in ("calibration.py", "lockmeter.py") else ["--quick"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "|---|" in p.stdout
