"""The exceptions kmapsim raises.

The Rust binding imports this module and raises these classes itself, with the positional
arguments documented on each ``__init__``, so Rust and Python report errors the same way. Every
class defines ``__reduce__`` because sweeps run scenarios in worker processes, and an exception
that cannot be pickled back to the parent turns a clear error into a confusing one. It keeps the
attributes set after construction too (a sweep adds ``scenario`` and ``seed`` to a point's error).
"""

from __future__ import annotations

from typing import Any, TypeAlias, TypeVar

__all__ = [
    "DeadlockError",
    "InternalError",
    "KernelBug",
    "KmapsimError",
    "ScenarioError",
    "ScenarioFileError",
    "ScenarioTypeError",
    "SimulationBusy",
    "WaitEdge",
    "WallClockExceeded",
]

#: One edge of a wait-for graph: (cpu, what it waits for, the cpu it waits on or None).
WaitEdge: TypeAlias = tuple[int, str, int | None]


_E = TypeVar("_E", bound="ScenarioError")


class KmapsimError(Exception):
    """Base class of every error kmapsim raises on purpose, so callers can catch them all."""


class ScenarioError(KmapsimError, ValueError):
    """A bad input: a scenario field, a preset name or a `run` argument.

    ``field`` names what was wrong (a scenario field, or an argument such as ``"cycles"``),
    ``problem`` says what is wrong with it and ``allowed`` what would be accepted, so a caller can
    show or test each part without parsing the message. It is a `ValueError` so that generic code
    that validates input keeps working.
    """

    field: str
    problem: str
    allowed: str

    def __init__(self, message: str, field: str, problem: str, allowed: str) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem
        self.allowed = allowed

    @classmethod
    def of(cls: type[_E], field: str, problem: str, allowed: str) -> _E:
        """Build the error with the Rust core's message format: ``field: problem; allowed: ...``."""
        return cls(f"{field}: {problem}; allowed: {allowed}", field, problem, allowed)

    def within(self: _E, where: str) -> _E:
        """The same error, of the same class (a type error stays one), its message saying
        where it is (a file, a grid point): ``where: message``."""
        return type(self)(f"{where}: {self}", self.field, self.problem, self.allowed)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.field, self.problem, self.allowed), self.__dict__)


class ScenarioTypeError(ScenarioError, TypeError):
    """A bad input of the wrong type: an argument that is not a `Scenario`, a `RunResult` or a
    DataFrame where one is due, a name that is not a string, a number that is a bool or a
    string. Both a `TypeError`, as Python's own checks raise, and a `ScenarioError` (so a
    `ValueError`), with the same ``field``, ``problem`` and ``allowed``: code catching either
    keeps working."""

    @classmethod
    def got(cls, field: str, value: object, allowed: str) -> ScenarioTypeError:
        """The error for ``value`` of the wrong type, named by its type and quoted."""
        from kmapsim._quote import quote

        return cls.of(field, f"got {type(value).__name__} {quote(value, 60)}", allowed)


def bad_name(field: str, value: object, problem: str, allowed: str) -> ScenarioError:
    """The error for ``value`` where one of the names in ``allowed`` is due: a
    `ScenarioTypeError` when it is not a string at all, else a `ScenarioError`."""
    kind = ScenarioError if isinstance(value, str) else ScenarioTypeError
    return kind.of(field, problem, allowed)


class ScenarioFileError(ScenarioError):
    """A file that cannot be read as what it should hold: missing, a directory, not UTF-8, not
    valid TOML or JSON (the message then gives the line and column the parser reports), empty,
    of the wrong shape, or with a suffix that names no known format.

    ``path`` is the file as given; ``field`` is ``"file"``, or the command-line option that named
    the file (such as ``"--grid-file"``). A file that reads well but sets a bad field raises a
    plain `ScenarioError` for that field instead.
    """

    path: str

    def __init__(
        self, message: str, field: str, problem: str, allowed: str, path: str = ""
    ) -> None:
        super().__init__(message, field, problem, allowed)
        self.path = path

    @classmethod
    def at(cls, path: object, problem: str, allowed: str, field: str = "file") -> ScenarioFileError:
        """The error for file ``path``, in the format of `ScenarioError.of`; ``problem`` should
        name the path, since the message is all a user of the command line sees."""
        return cls(f"{field}: {problem}; allowed: {allowed}", field, problem, allowed, str(path))

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (str(self), self.field, self.problem, self.allowed, self.path),
            self.__dict__,
        )


class DeadlockError(KmapsimError, RuntimeError):
    """The simulated machine is stuck, detected in one of two ways (docs/model.md, watchdog):

    - *frozen*: no CPU can ever act again (every CPU with work left spins, sleeps or waits for
      IPI acks, and no IPI is in flight). Raised at the cycle it happens, whatever
      ``watchdog_cycles`` is, so a deadlocked run never ends looking healthy.
    - *stalled*: no CPU completed a kmap or kunmap for ``watchdog_cycles`` although CPUs still
      run (a livelock). A single stretch longer than ``watchdog_cycles`` (a long work or
      interrupts-off hold) does not count: the watchdog waits until it ends.

    ``cycle`` is when it was detected, ``reason`` which of the two and why, ``chain`` the CPUs of
    the wait-for cycle in order (empty when the stuck CPUs form no cycle, e.g. all asleep on
    ``pkmap_map_wait``; ``reason`` and ``edges`` then say what they wait for) and ``edges`` what
    every stuck CPU waits for, as ``(cpu, what, on_cpu)`` with ``on_cpu`` None when it waits on
    no particular CPU.

    ``sleepers`` lists the tasks asleep on ``pkmap_map_wait`` while holding mappings, as
    ``(task, [(slot, page), ...])``, and ``pool_exhausted`` is True when every slot of the pool
    is in use, tasks sleep for one and no CPU can run, so that no kunmap can ever free a slot.
    When the sleepers hold every slot between them, it is the two-kmap deadlock (linux-mm,
    January 2007): a wait-for cycle among tasks rather than CPUs, which ``chain`` then lists;
    when other tasks hold some (tasks that exited holding them, or tasks not asleep on it), there
    is no such cycle and ``chain`` is empty. The message says who holds how many.
    """

    cycle: int
    chain: list[int]
    edges: list[WaitEdge]
    reason: str
    sleepers: list[tuple[int, list[tuple[int, int]]]]
    pool_exhausted: bool

    def __init__(
        self,
        message: str,
        cycle: int,
        chain: list[int],
        edges: list[WaitEdge],
        reason: str = "",
        sleepers: list[tuple[int, list[tuple[int, int]]]] | None = None,
        pool_exhausted: bool = False,
    ) -> None:
        super().__init__(message)
        self.cycle = cycle
        self.chain = list(chain)
        self.edges = [(int(c), str(w), None if on is None else int(on)) for c, w, on in edges]
        self.reason = reason
        self.sleepers = [
            (int(t), [(int(s), int(p)) for s, p in held]) for t, held in (sleepers or [])
        ]
        self.pool_exhausted = bool(pool_exhausted)

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.cycle, self.chain, self.edges, self.reason, self.sleepers)
        return (type(self), (str(self), *args, self.pool_exhausted), self.__dict__)


class KernelBug(KmapsimError, RuntimeError):
    """The simulated kernel hit a condition on which Linux 2.4 calls ``BUG()``.

    This means the model (or a strategy) broke an invariant, such as a slot count reaching 0 in
    kunmap; the run cannot go on meaningfully, so it stops. ``detail`` is the bare condition,
    without the cycle and CPU that the message adds (the message itself when not given).
    """

    cycle: int
    cpu: int
    detail: str

    def __init__(self, message: str, cycle: int, cpu: int, detail: str | None = None) -> None:
        super().__init__(message)
        self.cycle = cycle
        self.cpu = cpu
        self.detail = message if detail is None else detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.cycle, self.cpu, self.detail), self.__dict__)


class InternalError(KmapsimError, RuntimeError):
    """The engine itself failed (a Rust panic, caught before it reached the interpreter).

    Not your input's fault: please report it with ``scenario`` and ``seed`` (both attributes),
    which reproduce it. The run is lost; the interpreter, other runs and stores are fine.
    """

    scenario: dict[str, Any]
    seed: int
    detail: str

    def __init__(self, message: str, scenario: dict[str, Any], seed: int, detail: str) -> None:
        super().__init__(message)
        self.scenario = scenario
        self.seed = seed
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.scenario, self.seed, self.detail), self.__dict__)


class WallClockExceeded(KmapsimError, TimeoutError):
    """A run went past its ``max_wall_seconds``: it stopped at ``cycle`` after ``seconds``."""

    cycle: int
    seconds: float

    def __init__(self, message: str, cycle: int, seconds: float) -> None:
        super().__init__(message)
        self.cycle = cycle
        self.seconds = seconds

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.cycle, self.seconds), self.__dict__)


class SimulationBusy(KmapsimError, RuntimeError):
    """A `Simulation` was used from a second thread while another thread was advancing it (or
    reading it). A Simulation belongs to one thread at a time: give each thread its own, or
    hold a lock around every call. Nothing happened to the simulation; the call can be retried.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self),), self.__dict__)
