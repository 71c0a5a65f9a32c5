"""`Simulation`: drive one run step by step from your own tool, and look inside between steps.

    sim = kmapsim.Simulation(scenario, seed=1)
    while sim.now < 50_000_000:
        sim.advance(1_000_000)
        snap = sim.snapshot()          # who holds kmap_lock, who waits, free slots, ...
    r = sim.result()                   # the same RunResult as kmapsim.run(..., cycles=sim.now)

Advancing in pieces gives exactly the result of one `run` for the same total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmapsim import _core
from kmapsim._frozen import CopiedField, FrozenList, freeze_mapping, owned_frames, sealed
from kmapsim._quote import did_you_mean, quote
from kmapsim.errors import ScenarioError, SimulationBusy
from kmapsim.result import RunResult
from kmapsim.runner import MAX_CYCLES, Mode, _int_arg, engine_options
from kmapsim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Simulation", "Snapshot"]


@sealed
@dataclass(frozen=True, eq=False)
class Snapshot:
    """The machine at cycle ``cycle``. ``cpus`` has a row per CPU: phase (its program's next
    step), category, irqs_on, in_handler, waiting_for, next_action, pending_ipis,
    inflight_ipis, slot and page it holds mapped (or None), tlb_entries.

    A snapshot is a value: ``cpus`` returns a fresh copy of the frame on each access, the
    dicts and lists are read-only (`kmapsim._frozen.FrozenDict`, ``FrozenList``). Snapshots are
    equal when every field is (the frames compared with ``DataFrame.equals``); they are not
    hashable, as they hold a DataFrame."""

    cycle: int
    cpus: pd.DataFrame
    #: One dict per lock: name, holder (CPU or None), waiters (CPUs, in arrival order).
    locks: Sequence[Mapping[str, Any]]
    #: Slot counts: free (0), unused (1), in_use (>= 2); the allocation cursor; and in a split
    #: pool (``split``, ``defer``) the active half and the half whose shootdown is running
    #: (``half``, ``half_in_flight``: 0, 1 or None).
    slots: Mapping[str, int | None]
    #: CPUs asleep on the pkmap wait queue.
    sleeping: Sequence[int]
    flush_generation: int
    counters: Mapping[str, int]

    def __post_init__(self) -> None:
        # What `lock` and a caller read must not change under them.
        locks = FrozenList(
            freeze_mapping({**lk, "waiters": FrozenList(lk.get("waiters", ()))})
            for lk in self.locks
        )
        object.__setattr__(self, "locks", locks)
        object.__setattr__(self, "slots", freeze_mapping(self.slots))
        object.__setattr__(self, "sleeping", FrozenList(self.sleeping))
        object.__setattr__(self, "counters", freeze_mapping(self.counters))

    def _plain(self) -> tuple[Any, ...]:
        return (
            self.cycle,
            self.locks,
            self.slots,
            self.sleeping,
            self.flush_generation,
            self.counters,
        )

    # Defining __eq__ makes instances unhashable, which suits a value holding a DataFrame.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        mine, theirs = self.__dict__["cpus"], other.__dict__["cpus"]
        return self._plain() == other._plain() and bool(mine.equals(theirs))

    def lock(self, name: str = "kmap_lock") -> Mapping[str, Any]:
        """The lock called ``name`` (kmap_lock, call_lock, irq_lock[k]); ScenarioError for a
        name the machine has not."""
        for lk in self.locks:
            if lk["name"] == name:
                return lk
        names = ", ".join(lk["name"] for lk in self.locks)
        problem = (
            f"no lock called {quote(name)}{did_you_mean(name, [lk['name'] for lk in self.locks])}"
        )
        raise ScenarioError.of("name", problem, f"one of {names}")


Snapshot.cpus = CopiedField("cpus", "A row per CPU (a copy on each access).")  # type: ignore[assignment]


class Simulation:
    """A run you advance yourself. Same arguments as `kmapsim.run`, without ``cycles``.

    A Simulation belongs to one thread at a time: a call from a second thread while another
    runs raises `SimulationBusy` (nothing happens to the simulation). The record budget
    (`kmapsim.runner`) holds over the simulation's whole life, not per call.
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        *,
        mode: Mode = "skip",
        trace: int = 0,
        sample_every: int = 0,
        replay: Any = None,
        record_ops: bool = False,
        max_wall_seconds: float | None = None,
        cancel: _core.CancelToken | None = None,
        replay_calls: Any = None,
        record_calls: bool = False,
    ) -> None:
        self.scenario = scenario
        self._sim = _core.Simulation(
            engine_options(
                scenario,
                seed,
                mode,
                trace,
                sample_every,
                replay,
                record_ops,
                max_wall_seconds,
                cancel,
                replay_calls,
                record_calls,
            )
        )

    @property
    def now(self) -> int:
        """Cycles simulated so far (the next cycle to simulate)."""
        return self._sim.now

    def advance(self, cycles: int) -> None:
        """Simulate ``cycles`` more cycles. Raises like `kmapsim.run`. After a DeadlockError,
        KernelBug, InternalError, MemoryError or a full record budget the simulation is over:
        every later ``advance`` (even ``advance(0)``) raises the same error again. After Ctrl-C
        or WallClockExceeded (``max_wall_seconds`` applies to each call) it can go on; after a
        cancel too once the token is reset (``cancel.reset()``: a cancelled token stops every
        later call at once). A refused argument leaves it as it was."""
        self._sim.advance(_int_arg("cycles", cycles, 0, MAX_CYCLES))

    def advance_to(self, cycle: int) -> None:
        """Simulate up to (not including) ``cycle``."""
        self._sim.advance_to(_int_arg("cycle", cycle, self.now, MAX_CYCLES))

    def snapshot(self) -> Snapshot:
        """The machine now (`Snapshot`: a row per CPU, the locks, the pkmap slots, the sleepers,
        the counters). Raises SimulationBusy while another thread advances the simulation."""
        import pandas as pd

        raw = self._sim.snapshot()
        cpus = pd.DataFrame(raw["cpus"]).set_index("cpu")
        with owned_frames():  # the frame was built for the snapshot: no copy of it
            return Snapshot(
                cycle=raw["cycle"],
                cpus=cpus,
                locks=raw["locks"],
                slots=raw["slots"],
                sleeping=raw["sleeping"],
                flush_generation=raw["flush_generation"],
                counters=raw["counters"],
            )

    def result(self) -> RunResult:
        """Everything measured so far, exactly as `kmapsim.run` of `now` cycles reports it.
        After a DeadlockError, KernelBug or full record budget (which `run` raises) it is what
        was measured up to the error, and its ``stopped`` holds the error's message."""
        return RunResult.from_raw(self.scenario, self._sim.result())

    def __repr__(self) -> str:
        # A repr must not raise: while another thread advances the simulation, say so.
        try:
            now = f"now={self.now}"
        except SimulationBusy:
            now = "busy: another thread is advancing it"
        return f"Simulation({self.scenario!r}, {now})"
