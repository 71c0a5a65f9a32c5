"""Named, documented machines: the starting points of studies.

A preset is a description and the fields it sets, each with a source note saying where the value
comes from: a published figure ("Multikernel SOSP 2009: ...", "Molnar LKML 2015: ...", "Hansen
2014 ...", "LKML 2002: ...", "Linux: ..."), a value fitted to one ("calibrated: ...") or, jointly
with others, to several ("fitted: ...", saying to what), or "assumption: ..." for everything
with no published source. Fields a preset does not set take the scenario defaults,
which are the `pIII-8way-2001` preset, documented with their sources in docs/model.md
(section 11). A preset holds no Scenario itself, so this module needs neither the engine nor
`kmapsim.scenario`, and `Scenario.preset` validates the values when it builds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kmapsim._frozen import sealed
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, ScenarioTypeError

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "SOURCE_TAGS",
    "Preset",
    "describe_preset",
    "get_preset",
    "preset_names",
    "preset_sources",
]

#: How a source note may begin: a published anchor, a kernel fact, a fit to an anchor, or an
#: assumption. A note that does not start with one of these is rejected.
SOURCE_TAGS = (
    "Multikernel SOSP 2009:",
    "Molnar LKML 2015:",
    "Hansen 2014",
    "Linux:",
    "calibrated:",
    "fitted:",
    "LKML 2002:",
    "assumption:",
)

Value = int | float | str


@sealed
@dataclass(frozen=True)
class Preset:
    """A named machine: ``values`` are the scenario fields it sets (the rest take the defaults)
    and ``sources`` says, for each of them, where the value comes from."""

    name: str
    description: str
    values: Mapping[str, Value] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every value needs its source, and a source with no value is a typo.
        if set(self.values) != set(self.sources):
            missing = sorted(set(self.values) - set(self.sources))
            extra = sorted(set(self.sources) - set(self.values))
            raise ValueError(f"preset {self.name}: no source for {missing}, no value for {extra}")
        for name, note in self.sources.items():
            if not note.startswith(SOURCE_TAGS) or len(note) < 20:
                raise ValueError(f"preset {self.name}: source of {name} is not tagged: {note!r}")
        # Read-only, so that a preset cannot be changed by whoever looked it up.
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))


def _preset(name: str, description: str, settings: Mapping[str, tuple[Value, str]]) -> Preset:
    """A preset from ``{field: (value, source note)}``, so each value sits beside its source."""
    return Preset(
        name=name,
        description=description,
        values={k: v for k, (v, _) in settings.items()},
        sources={k: s for k, (_, s) in settings.items()},
    )


def _registry(*presets: Preset) -> Mapping[str, Preset]:
    return MappingProxyType({p.name: p for p in presets})


_MK = "Multikernel SOSP 2009:"

#: The 8x4-core Opteron of Baumann et al., "The Multikernel" (SOSP 2009), running a 32-bit
#: highmem kernel. The shootdown is calibrated to the paper's Linux 2.6.26 unmap latency: under
#: `sync`, with no interrupts-off section in the way, the `shootdown` histogram records exactly
#:   lock_acquire + ipi_send + ipi_latency + (cpus - 1) * ipi_send_per_target
#:   + ipi_handler + tlb_flush (the last target's handler) + 1 (the ack is seen a cycle later)
#:   + tlb_flush (the local flush)
#: = 50 + 1500 + 1400 + (n - 1) * 810 + 800 + 320 + 1 + 320 = 5201 + (n - 2) * 810,
#: against the published 5.2k at 2 cores and 29.5k at 32 (docs/scripts/calibration.py).
OPTERON = _preset(
    "opteron-32core-2009",
    "The machine of Baumann et al., 'The Multikernel' (SOSP 2009): 8 sockets x 4-core AMD"
    " Opteron at 2 GHz, 32 cores, calibrated so that the sync strategy's shootdown latency"
    " follows the paper's Linux 2.6.26 unmap latency (about 5.2k cycles at 2 cores, rising"
    " linearly by about 810 cycles per extra core, as IPIs are sent and acknowledged serially, to"
    " about 29.5k at 32; `python docs/scripts/calibration.py` checks it). The paper ran 64-bit"
    " kernels, which have no highmem: running a 32-bit PAE highmem kernel on this box is the"
    " hypothetical part. The workload is the dbench-like loop of pIII-8way-2001 (fields not"
    " listed take its values), with copy and context-switch costs rescaled to this machine.",
    {
        "cpus": (32, f"{_MK} 8 sockets x 4 cores"),
        "cpu_mhz": (2000.0, f"{_MK} AMD Opteron at 2 GHz"),
        "last_pkmap": (
            512,
            "Linux: LAST_PKMAP is 512 with PAE; that a 32-bit kernel on this many-GiB box uses"
            " PAE is an assumption",
        ),
        "tlb_entries": (
            48,
            "assumption: about the size of a K10 Opteron's L1 data TLB (48 entries, from memory"
            " of AMD's manuals, not checked); an upper bound on the pkmap share",
        ),
        "tlb_miss_cycles": (40, "assumption: a three-level PAE walk hitting in the caches"),
        "tlb_flush_cycles": (
            320,
            f"{_MK} a TLB invalidate costs 95-320 cycles; taking the top of the range for a full"
            " flush that also drops global entries is an assumption",
        ),
        "tlb_invlpg_cycles": (
            95,
            f"{_MK} a TLB invalidate costs 95-320 cycles; the bottom of the range for one invlpg"
            " is an assumption",
        ),
        "ipi_send_per_target_cycles": (
            810,
            f"{_MK} Linux 2.6.26 unmap latency grows by about 810 cycles per extra core"
            " ((29.5k - 5.2k) / 30), IPIs being sent one target at a time; in the model the"
            " slope is the larger of this and ipi_ack_per_target_cycles, so the sends set it",
        ),
        "ipi_ack_per_target_cycles": (
            414,
            f"{_MK} a single broadcast shootdown grows from about 1.4k cycles at 2 cores to"
            " about 13.8k at 32 (Fig. 6), (13.8k - 1.38k) / 30 = 414 cycles per target: the"
            " acks queue on one shared cache line; that Linux's ack line costs what Barrelfish's"
            " broadcast channel does is an assumption",
        ),
        "ipi_handler_cycles": (800, f"{_MK} an IPI trap costs about 800 cycles"),
        "ipi_send_cycles": (
            1086,
            "calibrated: with the other terms fixed, lock_acquire + ipi_send + ipi_latency +"
            " ipi_ack_per_target must be 2950 for the 2-core unmap latency of about 5.2k cycles"
            " (Multikernel SOSP 2009); this value is the remainder and stands for the paper's"
            " unmap path that the model lacks (system call, page-table update, flush setup), not"
            " for an ICR write; the split with ipi_latency is an assumption",
        ),
        "ipi_latency": (
            1400,
            "assumption: 0.7 us from send to the target APIC across the HyperTransport links;"
            " only its sum with ipi_send_cycles is calibrated",
        ),
        "lock_acquire_cycles": (50, "assumption: one locked instruction on a cached line"),
        "lock_handoff_cycles": (
            400,
            "assumption: 200 ns to move the lock's cache line across up to three"
            " HyperTransport hops",
        ),
        "ctx_switch_cycles": (4000, "assumption: about 2 us, a 2008 Linux context switch"),
        "work_cycles": (
            15000,
            "assumption: the dbench work per page of pIII-8way-2001, unchanged in cycles",
        ),
        "copy_cycles": (1600, "assumption: a cache-warm 4 KiB copy at about 5 GB/s"),
    },
)

#: A hypothetical present-day many-core x86 running a 32-bit highmem kernel.
MODERN = _preset(
    "modern-64core",
    "HYPOTHETICAL: a 64-core x86 at about 2.5 GHz of the 2015-2020 kind, running a 32-bit"
    " highmem (PAE) kernel, which no such machine is known to do; it asks how the 2.4 design"
    " would fare on today's core counts. TLB costs are the published ones (Molnar, LKML 2015:"
    " invlpg about 260 cycles, CR3 reload about 96; Hansen 2014, commit a5102476a24b:"
    " flush_tlb_mm_range about 1.3k cycles for one page, 2.3k for a full flush); spinlocks are"
    " ticket/queued (FIFO); IPI costs are the Multikernel ones rescaled by assumption; all else"
    " is assumption. The workload is the dbench-like loop of pIII-8way-2001 (fields not listed"
    " take its values), with copy and context-switch costs rescaled.",
    {
        "cpus": (64, "assumption: a hypothetical 64-core machine"),
        "cpu_mhz": (2500.0, "assumption: a hypothetical 2.5 GHz clock"),
        "last_pkmap": (512, "Linux: LAST_PKMAP is 512 with PAE, which a 64-core box would need"),
        "lock_arbitration": (
            "fifo",
            "Linux: x86 spinlocks are ticket locks since 2.6.25 and queued spinlocks since 4.2,"
            " both first come, first served",
        ),
        "tlb_entries": (
            64,
            "assumption: a recent x86 L1 data TLB has about 64 entries for 4 KiB pages; an"
            " upper bound on the pkmap share",
        ),
        "tlb_miss_cycles": (
            30,
            "assumption: a walk served by the paging-structure caches and L1/L2",
        ),
        "tlb_flush_cycles": (
            2300,
            "Hansen 2014 (commit a5102476a24b): one flush_tlb_mm_range call doing a full flush"
            " costs about 2.3k cycles; it includes the call's own overhead, and Molnar LKML"
            " 2015's CR3 reload of about 96 cycles is the bare instruction's lower bound",
        ),
        "tlb_invlpg_cycles": (
            260,
            "Molnar LKML 2015: one invlpg costs about 260 cycles (kmap_local invalidates"
            " with a bare invlpg, so not Hansen's 1.3k-cycle flush_tlb_mm_range call)",
        ),
        "ipi_handler_cycles": (
            1000,
            "assumption: Multikernel's 800-cycle IPI trap (0.4 us at 2 GHz) kept at 0.4 us;"
            " kernel entry has not become cheaper since",
        ),
        "ipi_latency": (
            1250,
            "assumption: 0.5 us from send to the target APIC, a little under the 0.7 us assumed"
            " for the 2009 Opteron",
        ),
        "ipi_send_cycles": (
            500,
            "assumption: 0.2 us of smp_call_function_many() setup and the first send",
        ),
        "ipi_send_per_target_cycles": (
            250,
            "assumption: Multikernel's 810 cycles per core (405 ns) came from serial xAPIC sends"
            " and acks; x2APIC sends need no ICR polling, so about one remote cache-line write"
            " per target (the queued call entry) remains, 100 ns",
        ),
        "lock_acquire_cycles": (30, "assumption: one locked instruction on a cached line"),
        "lock_handoff_cycles": (
            250,
            "assumption: 100 ns to move the lock's cache line between cores",
        ),
        "ctx_switch_cycles": (
            4000,
            "assumption: about 1.6 us, a context switch with today's mitigations",
        ),
        "work_cycles": (
            15000,
            "assumption: the dbench work per page of pIII-8way-2001, unchanged in cycles",
        ),
        "copy_cycles": (600, "assumption: a cache-warm 4 KiB copy at about 17 GB/s"),
    },
)

#: What the fitted values of `numaq-16way-2002` were fitted to (docs/validation.md, section f).
_NUMAQ_FIT = (
    "fitted: jointly, with the other fitted values, to the eight published kmap_lock figures of"
    " both kernels (LKML 2002, lockmeter; docs/scripts/lockmeter.py)"
)
#: The 16-way NUMA-Q of the March 2002 LKML thread "Scalability problem (kmap_lock) with -aa
#: kernels" (Martin J. Bligh): the machine under examples/lockmeter/numaq16-*.toml.
NUMAQ = _preset(
    "numaq-16way-2002",
    "The machine of the only published kmap_lock lock statistics (LKML, 18-20 March 2002,"
    " 'Scalability problem (kmap_lock) with -aa kernels': lockmeter during a kernel compile):"
    " an IBM NUMA-Q, 16 CPUs in 4 quads, running 2.4 with PAE. The thread states neither the"
    " clock nor any cost; the clock is an assumption and the lock, flush and IPI costs are"
    " fitted, jointly, to the published figures of both kernels, through the mechanisms that"
    " make a NUMA box different: cache lines that cross quads (the lock's line slows with every"
    " spinner, the pkmap_count array and struct pages are remote) and IPIs sent one CPU at a"
    " time. The two kernels' workloads are the scenario files examples/lockmeter/"
    "numaq16-mainline.toml and numaq16-aa.toml; `python docs/scripts/lockmeter.py` compares.",
    {
        "cpus": (16, "LKML 2002: a 16-way NUMA-Q, four quads of four CPUs (Bligh)"),
        "cpu_mhz": (
            700.0,
            "assumption: IBM's 16-way NUMA-Q boxes of the time used 700 MHz Pentium III Xeons;"
            " the thread does not give the clock",
        ),
        "last_pkmap": (
            512,
            "Linux: LAST_PKMAP is 512 with PAE (CONFIG_HIGHMEM64G), which a NUMA-Q with"
            " memory above 4 GB needs; that this box had it is an assumption. The -aa"
            " scenario file sets the thread's 1024",
        ),
        "lock_acquire_cycles": (
            318,
            f"{_NUMAQ_FIT}; stands for fetching the lock's line from the quad of its last holder",
        ),
        "lock_handoff_cycles": (1258, f"{_NUMAQ_FIT}; a cross-quad line transfer to a spinner"),
        "lock_handoff_per_waiter_cycles": (
            809,
            f"{_NUMAQ_FIT}; the mechanism is Boyd-Wickizer et al., Linux Symposium 2012",
        ),
        "lock_hold_per_waiter_cycles": (
            429,
            f"{_NUMAQ_FIT}; the holder's accesses to the lock's line, stolen by each spinner",
        ),
        "kmap_new_cycles": (284, f"{_NUMAQ_FIT}; kmap_hit_cycles and kunmap_cycles are half"),
        "kmap_hit_cycles": (142, f"{_NUMAQ_FIT}; half of kmap_new_cycles"),
        "kunmap_cycles": (142, f"{_NUMAQ_FIT}; half of kmap_new_cycles"),
        "scan_slot_cycles": (
            26,
            f"{_NUMAQ_FIT}; the cursor walks pkmap_count[], whose lines other quads dirty",
        ),
        "flush_slot_cycles": (
            173,
            f"{_NUMAQ_FIT}; the flush loop reads every pkmap_count[] line, most of them remote",
        ),
        "flush_clear_slot_cycles": (
            120,
            f"{_NUMAQ_FIT}; a cleared slot writes its page's struct page, remote for most quads",
        ),
        "ipi_send_per_target_cycles": (
            1353,
            f"{_NUMAQ_FIT}. Linux: 2.4 i386 in clustered APIC mode (NUMA-Q) has no broadcast"
            " shorthand and sends smp_call_function's IPI one CPU at a time"
            " (send_IPI_mask_sequence), so a per-target cost exists; its size is the fit",
        ),
        "ipi_ack_per_target_cycles": (
            700,
            "assumption: one write to a line on another quad, about 1 us; queued acks"
            " (docs/model.md, section 18)",
        ),
        "tlb_refill_cycles": (
            3000,
            "assumption: refilling a PIII's 64-entry data TLB after a global flush, walks"
            " partly remote on NUMA-Q, about 4 us",
        ),
    },
)

#: Every preset by name.
PRESETS: Mapping[str, Preset] = _registry(
    Preset(
        name="pIII-8way-2001",
        description=(
            "The machine of the 2001 lse-tech mail that proposed the asynchronous flush_tlb_all():"
            " an 8-way 700 MHz Pentium III Xeon running dbench on Linux 2.4 without PAE"
            " (LAST_PKMAP = 1024). These are the scenario defaults; the source of each value is"
            " in docs/model.md, section 11. No sourced PIII-era IPI or TLB costs exist: the"
            " 1400-cycle (2 us) IPI delivery is an assumption, and a natural sweep parameter."
        ),
    ),
    OPTERON,
    MODERN,
    NUMAQ,
)

#: The preset the command line and `kmapsim.study.run_study` start from when given none: the
#: machine whose values are the scenario defaults.
DEFAULT_PRESET = "pIII-8way-2001"


def preset_names() -> list[str]:
    """The preset names, sorted."""
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a ScenarioError (field ``"preset"``) naming the known ones.

    A name that is not a string is refused the same way; the name is quoted cut short, and only
    a string of at most 64 characters is compared with the known names for a "did you mean".
    """
    names = preset_names()
    allowed = "one of " + ", ".join(names)
    if not isinstance(name, str):
        raise ScenarioTypeError.of(
            "preset", f"got {type(name).__name__} {quote(name)}, not a preset name", allowed
        )
    preset = PRESETS.get(name)
    if preset is not None:
        return preset
    problem = f"unknown preset {quote(name)}{did_you_mean(name, names)}"
    raise ScenarioError.of("preset", problem, allowed)


def describe_preset(name: str) -> str:
    """The description of preset ``name``."""
    return get_preset(name).description


def preset_sources(name: str) -> dict[str, str]:
    """The source note of each field preset ``name`` sets (fields it leaves are the defaults)."""
    return dict(get_preset(name).sources)
