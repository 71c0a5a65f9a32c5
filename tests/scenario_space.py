"""The scenario space the property tests draw from, and how two results are compared."""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st

import kmapsim
from kmapsim import Scenario

STRATEGIES = [
    "sync",
    "async",
    "guarded",
    "lazy",
    "targeted",
    "local",
    "broadcast",
    "concurrent",
    "early-ack",
    "ranged",
    "defer",
    "split",
]
SAFE_STRATEGIES = [s for s in STRATEGIES if s != "async"]


def assert_same_result(a: kmapsim.RunResult, b: kmapsim.RunResult) -> None:
    """Everything a run reports, except how long it took, is equal."""
    assert a.counters == b.counters
    pd.testing.assert_frame_equal(a.breakdown, b.breakdown)
    assert a.histograms.keys() == b.histograms.keys()
    for name in a.histograms:
        ha, hb = a.histograms[name], b.histograms[name]
        assert (ha.count, ha.sum, ha.min, ha.max) == (hb.count, hb.sum, hb.min, hb.max), name
        assert (ha.counts == hb.counts).all(), name
    assert a.violations == b.violations
    assert a.events == b.events
    pd.testing.assert_frame_equal(a.trace, b.trace)
    assert a.trace_dropped == b.trace_dropped


@st.composite
def contended_scenarios(
    draw: st.DrawFn, strategy: st.SearchStrategy[str] | None = None
) -> Scenario:
    """Small machines that wrap the pool often, contend on the locks, and (with more CPUs than
    slots) sleep on the pkmap wait queue, under any strategy and allocator."""
    cpus = draw(st.integers(1, 12))
    pages = draw(st.integers(8, 200))
    return Scenario(
        strategy=draw(strategy if strategy is not None else st.sampled_from(STRATEGIES)),
        slot_alloc=draw(st.sampled_from(["scan", "freelist"])),
        empty_flush=draw(st.sampled_from(["flush", "skip"])),
        tlb_invlpg_cycles=draw(st.integers(0, 300)),
        kmap_local_cycles=draw(st.integers(1, 50)),
        cpus=cpus,
        last_pkmap=draw(st.sampled_from([2, 4, 8, 16])),
        pages=pages,
        hot_pages=draw(st.integers(0, min(pages, 8))),
        shared_page_prob=draw(st.floats(0, 1)),
        tlb_entries=draw(st.integers(1, 8)),
        tlb_evict_rate=draw(st.floats(0, 20)),
        tlb_miss_cycles=draw(st.integers(0, 50)),
        tlb_flush_cycles=draw(st.integers(0, 300)),
        ipi_latency=draw(st.integers(1, 3000)),
        ipi_send_cycles=draw(st.integers(0, 400)),
        ipi_send_per_target_cycles=draw(st.integers(0, 100)),
        ipi_handler_cycles=draw(st.integers(1, 800)),
        lock_acquire_cycles=draw(st.integers(1, 50)),
        lock_handoff_cycles=draw(st.integers(1, 300)),
        lock_arbitration=draw(st.sampled_from(["tas", "fifo"])),
        irq_locks=draw(st.integers(1, 3)),
        irq_section_prob=draw(st.floats(0, 1)),
        irq_hold_cycles=draw(st.integers(1, 2000)),
        irq_hold_dist=draw(st.sampled_from(["exponential", "fixed"])),
        work_cycles=draw(st.integers(1, 3000)),
        work_dist=draw(st.sampled_from(["exponential", "fixed"])),
        copy_cycles=draw(st.integers(8, 600)),
        copy_lookups=draw(st.integers(1, 8)),
        scan_slot_cycles=draw(st.integers(0, 8)),
        flush_slot_cycles=draw(st.integers(0, 8)),
        ctx_switch_prob=draw(st.floats(0, 1)),
        ctx_switch_cycles=draw(st.integers(1, 1000)),
    )
