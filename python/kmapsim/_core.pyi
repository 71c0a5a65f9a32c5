"""Stubs for the Rust extension module ``kmapsim._core`` (rust/kmapsim-py).

Hand-written, and checked against the built module with ``python -m mypy.stubtest kmapsim._core``.
The Python layer is the public API; this module is an implementation detail.
"""

from typing import Any, final

__all__ = [
    "CALL_COLUMNS",
    "CALL_OPS",
    "CALL_RECORD_COLUMNS",
    "CATEGORIES",
    "COUNTERS",
    "HISTOGRAMS",
    "MAX_CYCLES",
    "MAX_DURATION",
    "MAX_HANDLES",
    "MAX_SEED",
    "MAX_TRACE",
    "MODEL_VERSION",
    "MODES",
    "OPS_COLUMNS",
    "PAGE_SOURCES",
    "PROGRAM_OPS",
    "RECORD_BUDGET_BYTES",
    "SAMPLE_COLUMNS",
    "TASK_STATES",
    "WORKLOADS",
    "CancelToken",
    "Options",
    "RawResult",
    "Simulation",
    "__version__",
    "_panic_in_engine_for_tests",
    "cancel_running",
    "check",
    "closest",
    "cores",
    "field_specs",
    "parse_program",
    "pct",
    "run",
    "validate",
]

__version__: str
#: Cycle categories, in the column order of ``RawResult.breakdown``.
CATEGORIES: list[str]
#: Counter names, in order.
COUNTERS: list[str]
#: Histogram names.
HISTOGRAMS: list[str]
#: Version of the model's semantics; results of different model versions are never mixed.
MODEL_VERSION: int
#: Most trace events a run may keep (the record budget at 600 bytes per event).
MAX_TRACE: int
#: Most memory a run's records may take, in bytes, counted at Python object sizes.
RECORD_BUDGET_BYTES: int
#: Time-advance modes ("skip", "step").
MODES: list[str]
#: Longest run, in cycles (2**50); seeds go up to MAX_SEED (2**64 - 1).
MAX_CYCLES: int
MAX_SEED: int
#: Longest duration a field or replayed operation may give, in cycles (2**40).
MAX_DURATION: int
#: Columns of ``RawResult.samples`` and of operation lists (``RawResult.ops``, ``replay=``).
SAMPLE_COLUMNS: list[str]
OPS_COLUMNS: list[str]
#: Columns of ``RawResult.task_breakdown``: running, runnable, blocked, pool_sleep.
TASK_STATES: list[str]
#: The workloads by name, each with one line on the kernel path it stands for.
WORKLOADS: list[tuple[str, str]]
#: The operations of a custom program, and the page sources of its ``kmap`` steps.
PROGRAM_OPS: list[str]
PAGE_SOURCES: list[str]
#: Most mappings a task may hold at once (handles of a program).
MAX_HANDLES: int
#: Columns of a replayed call list (``replay_calls=``), of recorded calls (``RawResult.calls``),
#: and the operations a call list may hold.
CALL_COLUMNS: list[str]
CALL_RECORD_COLUMNS: list[str]
CALL_OPS: list[str]

@final
class Options:
    """Everything a run takes besides its length, checked once (in Rust) when built."""

    def __new__(
        cls,
        scenario: dict[str, Any],
        seed: int,
        mode: str = "skip",
        trace: int | None = None,
        sample_every: int | None = None,
        replay: tuple[list[Any], ...] | None = None,
        record_ops: bool = False,
        max_wall_seconds: float | None = None,
        cancel: CancelToken | None = None,
        replay_calls: tuple[list[int], list[str], list[int], list[int]] | None = None,
        record_calls: bool = False,
    ) -> Options: ...

@final
class CancelToken:
    """A flag that stops the runs and simulations it is passed to (``cancel=``)."""

    def __new__(cls) -> CancelToken: ...
    def cancel(self) -> None:
        """Stop every run holding this token at its next poll (KeyboardInterrupt)."""
    def reset(self) -> None:
        """Clear the cancel, so that the runs and simulations holding this token can go on (a
        cancelled token stops every later run at once, e.g. each ``Simulation.advance``)."""
    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called (and not ``reset`` since)."""

def _panic_in_engine_for_tests(options: Options) -> None:
    """Test-only: panic inside the engine's guard (raises ``InternalError``)."""

def cancel_running() -> None:
    """Stop every run in progress in this process; each raises KeyboardInterrupt."""

def parse_program(text: str) -> list[dict[str, int | float | str | bool]]:
    """A program's one-line form as a list of steps (dicts); raises ``ScenarioError`` for a
    word that is not ``field=value``. ``irqs_off=true``/``false`` is held as 1/0; ``true`` or
    ``false`` in any other field stays a bool, which ``validate`` refuses. The steps are
    checked by ``validate``."""

def closest(name: str, known: list[str]) -> str | None:
    """The name of ``known`` nearest to ``name`` if it is close enough to be a typo, case
    compared last (``Async`` finds ``async``), else None; no suggestion for a name longer than
    64 bytes. Every "did you mean" comes from here."""

def cores() -> int:
    """The threads this process can run at once (Rust's ``available_parallelism``): the CPUs of
    its affinity mask, within a cgroup's CPU quota; 1 if it cannot tell."""

def field_specs() -> list[dict[str, Any]]:
    """One dict per scenario field, in table order.

    Keys: name, kind ("int", "float" or "choice"), min, max, choices, unit, doc, default.
    """

def validate(scenario: dict[str, Any]) -> dict[str, Any]:
    """The full normalized scenario (defaults filled in), or raise ``ScenarioError``."""

def run(options: Options, cycles: int) -> RawResult:
    """Simulate ``cycles`` cycles with ``options`` without the GIL: a ``Simulation`` advanced
    once (the one door into the engine).

    Raises ScenarioError, DeadlockError, KernelBug, or KeyboardInterrupt on Ctrl-C.
    """

def check(
    options: Options,
    bounds: tuple[int, int, int, int],
    symmetry: bool,
    witness_tries: int,
    threads: int,
) -> dict[str, Any]:
    """Explore every interleaving of ``options``' scenario (``kmapsim.check``), without the GIL,
    within ``bounds`` (max_states, max_depth, max_frontier, max_ipis), up to a renaming of the
    CPUs and pages if ``symmetry`` and the machine allows it; depth-first once a breadth-first
    level would hold more than ``max_frontier`` machines; a transition that leaves more than
    ``max_ipis`` IPIs outstanding at a CPU is not taken. A breadth-first level is expanded on
    ``threads`` threads (at least 1), with the same result for any number.

    Returns verdict, states, transitions, pruned, depth, symmetry (the renamings used: "cpus",
    "pages"), shortest, depth_first_from, message, state_bound (with "bound reached": whether
    max_states ended the search, else max_depth did), seconds (the search's wall time),
    witness_seconds (the timed-witness search's), steps (None, or
    one dict per step of the counterexample: event, on, label, choices), result (None, or the
    ``RawResult`` of the counterexample replayed by the engine, step i at cycle i + 1), witness
    (None, or the timed witness found within ``witness_tries`` timings: scenario dict, calls as
    (task, op, page, work) rows, seed, cycles, tries) and witness_note (why there is none).
    Raises ScenarioError, WallClockExceeded, or KeyboardInterrupt on Ctrl-C.
    """

def pct(
    options: Options, runs: int, steps: int, depth: int, seed: int, witness_tries: int
) -> dict[str, Any]:
    """``runs`` randomised runs (PCT) of ``steps`` steps hunting bugs of depth ``depth``: the
    dict of ``check`` plus ``chance_per_run``, PCT's lower bound on one run's chance."""

@final
class RawResult:
    """What the engine reports, as plain Python values; wrapped by ``kmapsim.RunResult``."""

    @property
    def cycles(self) -> int:
        """Cycles simulated."""
    @property
    def seed(self) -> int:
        """The run's seed."""
    @property
    def mode(self) -> str:
        """The engine's mode: ``skip`` or ``step``."""
    @property
    def events(self) -> int:
        """Events the engine handled."""
    @property
    def wall_seconds(self) -> float:
        """Wall-clock seconds the run took."""
    @property
    def counters(self) -> dict[str, int]:
        """Counter name -> count (at least ``COUNTERS``)."""
    @property
    def categories(self) -> list[str]:
        """The cycle categories, in the order of ``breakdown``'s columns."""
    @property
    def breakdown(self) -> list[list[int]]:
        """Per CPU, cycles per category (in ``categories`` order)."""
    @property
    def task_breakdown(self) -> list[list[int]]:
        """Per task, cycles ``running, runnable, blocked, pool_sleep`` (``TASK_STATES``)."""
    @property
    def histograms(self) -> dict[str, dict[str, Any]]:
        """Histogram name -> dict of counts (65 buckets), count, sum, min, max."""
    @property
    def lock_stats(self) -> list[dict[str, Any]]:
        """Per lock: ``lock`` (its name), lockmeter's exact sums (``acquisitions, contended,
        releases, hold_sum, hold_max, wait_sum, wait_max``, cycles), the hold and waits still
        running at the report (``open_hold``, the hold's cycles so far, 0 if none;
        ``open_wait`` and ``open_wait_max``, the running waits' cycles summed and the longest:
        they count in UTIL, the spin share and the maxima, not in the means) and the figures
        derived from them (``contended_pct, util_pct, hold_mean_cycles, wait_mean_cycles,
        spin_cpu_pct``)."""
    @property
    def violations(self) -> list[dict[str, int]]:
        """The first stale accesses in detail, one dict each (``StaleAccess``'s fields)."""
    @property
    def trace(self) -> list[tuple[int, int, str, dict[str, int | str]]]:
        """``(cycle, cpu, event, fields)`` tuples, oldest first (empty unless traced)."""
    @property
    def trace_dropped(self) -> int:
        """Older trace events dropped to keep within the trace's cap."""
    @property
    def samples(self) -> list[tuple[int, int, int, int, int, int, int]]:
        """``(cycle, kmaps, kunmaps, kmap_lock_waiters, free_slots, ipis_outstanding,
        sleeping)`` per sample (empty unless sampled)."""
    @property
    def ops(self) -> list[tuple[int, int, int, int, int, bool, bool]] | None:
        """Recorded ops, ``(cpu, work, irq_lock or -1, irq_hold, page, irqs_off, switch)``,
        or None."""
    @property
    def calls(self) -> list[tuple[int, int, int, str, int, int, bool, bool]] | None:
        """Recorded calls, ``(cycle, task, cpu, op, page, slot, slept, flushed)``, or None."""
    @property
    def stopped(self) -> str | None:
        """Why the simulation stopped early (its error's message), or None."""

@final
class Simulation:
    """One engine advanced in pieces; ``kmapsim.Simulation`` wraps it."""

    def __new__(cls, options: Options) -> Simulation: ...
    @property
    def now(self) -> int: ...
    def advance(self, cycles: int) -> None: ...
    def advance_to(self, cycle: int) -> None: ...
    def snapshot(self) -> dict[str, Any]: ...
    def result(self) -> RawResult: ...
