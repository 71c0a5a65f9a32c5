"""`check`: every interleaving of a small machine, explored with the simulator's own rules.

The engine's transitions run in an order of events instead of in time: from each state, any
CPU's current stretch may end next, any IPI in flight may arrive, any block may end, any free
lock with spinners may be granted, and each random choice of the workload or of a lock's
arbitration (a page, an interrupts-off section, a context switch, a winner) is a branch over
its outcomes. The search is breadth-first, so a counterexample is a shortest one; when a level
would hold more machines than ``max_frontier``, it goes on depth-first (the same states, in far
less memory). What the abstraction keeps and drops, and the verdict of every strategy, are in
docs/verification.md.

>>> r = check(strategy="async", cpus=2, slots=2, pages=3)
>>> r.verdict, r.counterexample is not None
('stale access', True)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kmapsim import _core
from kmapsim._frozen import CopiedField, freeze_mapping, owned_frames, sealed
from kmapsim._quote import quote, shell_word
from kmapsim.errors import ScenarioError, ScenarioTypeError
from kmapsim.outputs import output_dir, writing
from kmapsim.result import RunResult
from kmapsim.runner import _cancel_token, _flag, _int_arg, _wall_limit
from kmapsim.runner import run as _run
from kmapsim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CheckResult", "CheckStep", "Witness", "check", "check_machine"]

Verdict = Literal["safe", "stale access", "deadlock", "bug", "bound reached"]
#: The verdicts, and what each means.
VERDICTS: dict[str, str] = {
    "safe": "every reachable state was explored: no stale access, no deadlock, no kernel BUG",
    "stale access": "some interleaving reads through a stale TLB entry",
    "deadlock": "some interleaving reaches a state where nothing can happen and work is left",
    "bug": "some interleaving hits a kernel BUG (corrupt slot counts, a leaked mapping)",
    "bound reached": "a bound was reached first (CheckResult.bound['reached'] says which); "
    "nothing found so far",
}
#: Default bounds: distinct states, events on a path, and machines held for the next
#: breadth-first level (a few KB each).
MAX_STATES = 2_000_000
MAX_DEPTH = 10_000
MAX_FRONTIER = 100_000
#: Default bound on the IPIs sent to one CPU and not handled yet (None: no bound).
MAX_IPIS: int | None = None
#: Default number of timings the witness search draws for a counterexample.
WITNESS_TRIES = 1000
#: A long counterexample's summary shows its first and last this many steps.
SHOWN_STEPS = 100


@sealed
@dataclass(frozen=True)
class CheckStep:
    """One step of a counterexample: ``event`` is ``act`` (CPU ``on``'s current stretch ends:
    its program's next transition), ``deliver`` (the oldest IPI in flight to CPU ``on``
    arrives), ``unblock`` (task ``on``'s block ends) or ``grant`` (lock ``on`` is given to a
    spinner); ``choices`` are the outcomes of the random choices it made, in order; ``trace``
    what the engine recorded during the step, one ``(cpu, event, fields)`` per trace event."""

    index: int
    event: str
    on: int
    #: ``cpuN``, ``taskN`` or the lock's name (``kmap_lock``, ``call_lock``, ``irq_lock[k]``).
    label: str
    choices: tuple[int, ...]
    trace: tuple[tuple[int, str, Mapping[str, Any]], ...]

    def __post_init__(self) -> None:
        # A step is a hashable value: its trace's fields are read-only dicts.
        object.__setattr__(self, "choices", tuple(self.choices))
        trace = tuple((cpu, kind, freeze_mapping(f)) for cpu, kind, f in self.trace)
        object.__setattr__(self, "trace", trace)

    def describe(self) -> str:
        """One line: the step, then what it did."""
        phrase = {
            "act": "{} runs",
            "deliver": "an IPI arrives at {}",
            "unblock": "{}'s block ends",
            "grant": "{} is granted",
        }[self.event].format(self.label)
        head = f"{self.index + 1:>3}. {phrase}"
        if self.choices:
            head += f" (choices {', '.join(map(str, self.choices))})"
        done = [
            f"cpu{cpu} {kind} {' '.join(f'{k}={v}' for k, v in f.items())}".rstrip()
            for cpu, kind, f in self.trace
            if kind not in ("state", "lock_queue", "free_slots")
        ]
        return head + (": " + "; ".join(done) if done else "")


@sealed
@dataclass(frozen=True, eq=False)
class Witness:
    """A timed witness of a counterexample: per-task kernel calls whose timings make the
    ordinary timed simulation reach the same violation (the same stale read: CPU, slot and both
    pages; or a deadlock; or a kernel BUG).

    ``calls`` has the columns of `kmapsim.calls` (task, op, page, work), what
    ``run(replay_calls=...)`` and ``kmapsim run --replay-calls`` replay; ``scenario`` is the
    checked machine with its program replaced by the calls; a run of ``cycles`` cycles from
    ``seed`` reaches the violation (`run`). The checker's path fixes the calls and pages; the
    work before each call was drawn, ``tries`` timings in all, until one reached it.
    ``calls`` returns a fresh copy on each access. Witnesses are equal when their scenario,
    calls (the same rows), seed, cycles and tries are, and hash alike then: a pickled or
    deep-copied witness equals the original."""

    scenario: Scenario
    calls: pd.DataFrame = field(repr=False)
    seed: int
    cycles: int
    tries: int

    def _key(self) -> tuple[Any, ...]:
        # Built once: the frame held is the witness's own copy, never handed out (`calls`
        # takes a copy when set and gives copies), so it cannot change; a pickled or copied
        # witness carries the key along, equal to its own.
        key: tuple[Any, ...] | None = self.__dict__.get("_key_cached")
        if key is None:
            calls = self.__dict__["calls"]  # the frame held, not a copy
            rows = tuple(tuple(int(x) if not isinstance(x, str) else x for x in row)
                         for row in calls.itertuples(index=False, name=None))  # fmt: skip
            key = (self.scenario, tuple(calls.columns), rows, self.seed, self.cycles, self.tries)
            object.__setattr__(self, "_key_cached", key)
        return key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Witness):
            return NotImplemented
        return self is other or self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def run(self) -> RunResult:
        """The timed run. A stale-access witness returns its result (``violations`` holds the
        stale read); a deadlock witness raises DeadlockError, a BUG witness KernelBug."""
        return _run(self.scenario, cycles=self.cycles, seed=self.seed, replay_calls=self.calls)

    def save(self, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``scenario.toml`` and ``calls.csv`` into ``directory`` (created if missing);
        returns their paths. A ``directory`` that cannot be written (empty, a file, in a missing
        or read-only directory) raises ScenarioFileError (field ``"directory"``) naming it,
        before anything is written (`kmapsim.outputs.output_dir`)."""
        d = output_dir("directory", directory, ("scenario.toml", "calls.csv"))
        scenario, calls = d / "scenario.toml", d / "calls.csv"
        with writing("directory", d):
            d.mkdir(exist_ok=True)
            self.scenario.to_file(scenario)
            self.calls.to_csv(calls, index=False)
        return scenario, calls

    def command(self, directory: str | os.PathLike[str]) -> str:
        """The command line that replays the witness saved in ``directory`` (`save`)."""
        d = Path(directory)
        scenario, calls = shell_word(str(d / "scenario.toml")), shell_word(str(d / "calls.csv"))
        return (
            f"kmapsim run --scenario {scenario} --replay-calls {calls} "
            f"--seed {self.seed} --cycles {self.cycles}"
        )


# The calls frame hands out a copy: changing it cannot change what `run` and `save` replay.
Witness.calls = CopiedField("calls", "The witness's calls (a copy on each access).")  # type: ignore[assignment]


@sealed
@dataclass(frozen=True)
class CheckResult:
    """What `check` established.

    ``verdict`` is one of `VERDICTS`; ``states`` the distinct states reached (up to the
    renamings in ``symmetry``: ``"cpus"``, each with its task, and ``"pages"``, within their
    class), ``transitions`` the transitions run, ``depth`` the breadth-first levels completed
    (after a switch to depth-first, one more than the deepest level expanded; never more than
    ``max_depth``; with a counterexample, its length), ``seconds`` the search's wall time
    (``witness_seconds`` that of the timed-witness search after it); ``bound`` the machine and
    search bounds (with ``bound reached`` of an exhaustive search, also ``reached``:
    ``max_states`` or ``max_depth``, the one that ended it); ``depth_first_from`` the level at
    which the search went depth-first (None if it did not), and ``shortest`` whether a
    counterexample found is known to be a shortest one (one found after the switch to
    depth-first is real but may not be; a larger ``max_frontier`` gives a shortest one);
    ``pruned`` the transitions not taken because they would pass ``max_ipis`` (when not 0,
    ``safe`` holds for the runs within that bound); ``scenario`` the machine explored. With a
    counterexample: ``counterexample`` its steps, ``message`` what went wrong at its end (the
    stale access, or the deadlock report with its wait-for chain), and ``run`` the path replayed
    by the engine with its trace (step i at cycle i + 1), which `kmapsim.perfetto.write` turns
    into a Perfetto trace.

    A frozen value: ``bound`` and ``pct`` are read-only dicts; results are equal when their
    fields are (``run`` and ``witness`` left out: they follow from the others; and the wall
    times ``seconds`` and ``witness_seconds``, which differ between identical searches) and
    hash alike then."""

    verdict: Verdict
    states: int
    transitions: int
    depth: int
    # Wall times, like ``witness_seconds``: not what was established, left out of == and hash.
    seconds: float = field(compare=False)
    bound: Mapping[str, Any]
    symmetry: tuple[str, ...]
    scenario: Scenario = field(repr=False)
    counterexample: tuple[CheckStep, ...] | None = field(default=None, repr=False)
    message: str = ""
    # The run and the witness follow from the scenario and the counterexample (a run compares
    # by identity): left out of == and hash, so that a result equals its pickled copy.
    run: RunResult | None = field(default=None, repr=False, compare=False)
    #: With ``pct_runs``: runs, steps, depth, seed, PCT's lower bound on one run's chance of
    #: finding a bug of that depth (``chance_per_run``) and the bound on the chance that all
    #: runs missed it (``miss_chance``); None for the exhaustive search.
    pct: Mapping[str, float] | None = None
    shortest: bool = True
    depth_first_from: int | None = None
    pruned: int = 0
    #: The counterexample's timed witness (None without a counterexample, or if none was
    #: found: ``witness_note`` says why).
    witness: Witness | None = field(default=None, repr=False, compare=False)
    witness_note: str = ""
    #: Wall time of the timed-witness search, in seconds (not part of ``seconds``).
    witness_seconds: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        # Frozen means hashable and unchangeable: the summary reads ``bound`` and ``pct``.
        object.__setattr__(self, "bound", freeze_mapping(self.bound))
        if self.pct is not None:
            object.__setattr__(self, "pct", freeze_mapping(self.pct))
        object.__setattr__(self, "symmetry", tuple(self.symmetry))
        if self.counterexample is not None:
            object.__setattr__(self, "counterexample", tuple(self.counterexample))

    @property
    def symmetric(self) -> bool:
        """Whether states were identified up to some renaming (``symmetry`` is not empty)."""
        return bool(self.symmetry)

    def _headline(self) -> str:
        if self.verdict == "safe" and self.pruned:
            n = _n(int(self.bound["max_ipis"]), "IPI")
            return (
                f"safe within the IPI bound (every state reachable with at most {n} sent to a "
                "CPU and not handled yet was explored: no stale access, no deadlock, no kernel "
                "BUG)"
            )
        if self.verdict == "bound reached":
            return f"bound reached ({self._bound_hit()}; nothing found so far)"
        return f"{self.verdict} ({VERDICTS[self.verdict]})"

    def _bound_hit(self) -> str:
        """Which bound ended a search that found nothing: PCT's runs, or the one
        ``bound["reached"]`` names (``max_states`` or ``max_depth``)."""
        if self.pct is not None:
            return f"PCT's {int(self.pct['runs']):,} runs ended, which proves nothing"
        if self.bound.get("reached") == "max_states":
            return f"the state bound, max_states = {int(self.bound['max_states']):,}, was reached"
        return (
            f"the depth bound, max_depth = {int(self.bound['max_depth']):,}, was reached: some "
            "paths go deeper"
        )

    @property
    def found(self) -> bool:
        """Whether a counterexample was found (a stale access, a deadlock or a BUG)."""
        return self.counterexample is not None

    def summary(self) -> str:
        """The verdict and the search's size, then the counterexample step by step."""
        b = self.bound
        lines = [
            f"{self.scenario.strategy}: {self._headline()}",
            f"  machine: {_n(b['cpus'], 'CPU')}, {_n(b['slots'], 'slot')}, "
            f"{_n(b['pages'], 'page')}, {_n(b['tasks'], 'task')}; bounds: "
            f"{b['max_states']:,} states, depth {b['max_depth']:,}"
            + ("" if b.get("max_ipis") is None else f", {_n(int(b['max_ipis']), 'IPI')} a CPU"),
            f"  explored: {self.states:,} states"
            + (f" (up to a renaming of the {_renamed(self.symmetry)})" if self.symmetry else "")
            + f", {self.transitions:,} transitions, depth {self.depth:,}, in "
            f"{self.seconds:.2f} s",
        ]
        if self.pruned:
            lines.append(
                f"  {self.pruned:,} transitions not taken: each would leave more than "
                f"{_n(int(b['max_ipis']), 'IPI')} sent to a CPU and not handled yet; what was "
                "explored is the runs within that bound"
            )
        if self.depth_first_from is not None:
            lines.append(
                f"  breadth-first to level {self.depth_first_from:,}, then depth-first (a level "
                f"held more than {b['max_frontier']:,} machines)"
            )
        kind = "shortest counterexample"
        if self.pct is not None:
            p = self.pct
            kind = "counterexample (a randomised run's: not always the shortest)"
            lines[1] = lines[1][: lines[1].index("; bounds:")]
            lines[2] = (
                f"  randomised (PCT): {int(p['runs']):,} runs of {int(p['steps']):,} steps for "
                f"bugs of depth {int(p['depth'])}, seed {int(p['seed'])}, in {self.seconds:.2f} s"
            )
            if self.counterexample is None:
                lines.append(
                    f"  a bug of depth {int(p['depth'])} is found by one run with chance >= "
                    f"{p['chance_per_run']:.3g} (times that of its random choices); all runs "
                    f"missed one with chance <= {p['miss_chance']:.3g}"
                )
        elif not self.shortest:
            kind = (
                "counterexample (found depth-first: real, not known to be the shortest; a "
                "larger max_frontier gives a shortest one)"
            )
        if self.counterexample is not None:
            lines.append(f"  what went wrong: {self.message}")
            w = self.witness
            if w is not None:
                lines.append(
                    f"  timed witness: {_n(len(w.calls), 'kernel call')} that the timed "
                    f"simulation replays to the same end (seed {w.seed}, {w.cycles:,} cycles; "
                    f"{self.witness_seconds:.2f} s of timed runs, found in "
                    f"{_n(w.tries, 'try', 'tries')})"
                )
            elif self.witness_note:
                lines.append(f"  no timed witness: {self.witness_note}")
            steps = self.counterexample
            lines.append(f"  {kind}, {_n(len(steps), 'step')}:")
            if len(steps) > 2 * SHOWN_STEPS:
                left_out = len(steps) - 2 * SHOWN_STEPS
                shown = [s.describe() for s in steps[:SHOWN_STEPS]]
                shown.append(
                    f"  ... {left_out:,} steps not shown (CheckResult.counterexample has all)"
                )
                shown.extend(s.describe() for s in steps[-SHOWN_STEPS:])
                lines.extend("  " + line for line in shown)
            else:
                lines.extend("  " + s.describe() for s in steps)
        return "\n".join(lines)


def _renamed(symmetry: tuple[str, ...]) -> str:
    return " and of the ".join({"cpus": "CPUs", "pages": "pages"}.get(x, x) for x in symmetry)


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count:,} " + (noun if count == 1 else plural or noun + "s")


def check_machine(
    strategy: str = "sync",
    *,
    cpus: int = 2,
    slots: int = 2,
    pages: int = 3,
    tasks: int = 0,
    **fields: Any,
) -> Scenario:
    """The checker's default machine: the `Scenario` defaults with ``strategy``, ``cpus``,
    ``slots`` (``last_pkmap``), ``pages`` and ``tasks``, no hot pages (and so no draw between
    hot and cold), no interrupts-off sections, one lookup per copy and no unrelated TLB
    evictions (which the checker cannot explore). Context switches only with more tasks than
    CPUs, so that every task runs (any chance strictly between 0 and 1 explores both outcomes);
    ``fields`` set any other field."""
    base: dict[str, Any] = dict(
        strategy=strategy,
        cpus=cpus,
        last_pkmap=slots,
        pages=pages,
        tasks=tasks,
        hot_pages=0,
        shared_page_prob=0.0,
        irq_section_prob=0.0,
        ctx_switch_prob=0.0,
        copy_lookups=1,
        tlb_evict_rate=0.0,
    )
    base.update(fields)
    sc = Scenario(**base)  # cpus and tasks checked before they are compared
    if "ctx_switch_prob" not in fields and sc.tasks > sc.cpus:
        sc = sc.replace(ctx_switch_prob=0.5)
    return sc


def check(
    scenario: Scenario | None = None,
    *,
    strategy: str | None = None,
    cpus: int | None = None,
    slots: int | None = None,
    pages: int | None = None,
    tasks: int | None = None,
    max_states: int | None = None,
    max_depth: int | None = None,
    max_frontier: int | None = None,
    max_ipis: int | None = MAX_IPIS,
    symmetry: bool | None = None,
    threads: int | None = None,
    pct_runs: int | None = None,
    pct_steps: int | None = None,
    pct_depth: int | None = None,
    seed: int | None = None,
    witness_tries: int = WITNESS_TRIES,
    max_wall_seconds: float | None = None,
    cancel: _core.CancelToken | None = None,
) -> CheckResult:
    """Explore every interleaving of a small machine and return a frozen `CheckResult`.

    The machine is ``scenario`` (default: `check_machine`) with ``strategy``, ``cpus``, ``slots``
    (``last_pkmap``), ``pages`` and ``tasks`` replaced where given. Its workload (a built-in, or a
    ``scenario``'s custom ``program``) runs forever; durations do not matter, only the order of
    events. ``max_states`` and ``max_depth`` bound the search (verdict ``bound reached`` past
    either). The search is breadth-first while a level holds at most ``max_frontier`` machines, then
    depth-first: the same states, with memory for one path instead of a level; but a depth-first
    path runs far deeper than the levels (raise ``max_depth`` with a small ``max_frontier``, or the
    depth bound may stop a search that breadth-first completes), and the first violation it meets
    need not be of the kind a shortest one is (docs/verification.md). ``max_ipis`` bounds the IPIs
    sent to one CPU and not handled yet (in flight or pending): a strategy whose flusher does not
    wait for its IPIs (``async``, ``guarded``) has infinitely many states without it, since in an
    order of events nothing stops a flusher from lapping an IPI that has not landed. Transitions
    past the bound are not taken; ``CheckResult.pruned`` counts them, and when it is not 0 a
    ``safe`` verdict holds for the runs within the bound. With ``symmetry`` (the default) states
    that differ by a renaming of the CPUs, each with its task, count once when the machine allows it
    (one task per CPU, no per-task page source), and so do states that differ by a renaming of the
    pages within their class (hot or cold) when every kmap draws its page from a class
    (``CheckResult.symmetry`` says which). ``threads`` (default: `cores`, the cores this process may
    run on) expand each breadth-first level together; the result is the same for any number, field
    by field (one thread merges their outcomes in the order a single thread meets them; the
    depth-first continuation runs on one thread). With ``pct_runs``, the machine is tested instead
    by that many randomised runs of ``pct_steps`` steps each (PCT, Burckhardt et al., ASPLOS 2010,
    hunting bugs of depth ``pct_depth``, from ``seed``): a counterexample found is real and replays,
    but "bound reached" is no proof; ``CheckResult.pct`` gives PCT's probability bound. Each
    search's own arguments (None: not given, the default) are refused with the other: ``max_states``
    (default 2,000,000), ``max_depth`` (10,000), ``max_frontier`` (100,000), ``max_ipis``,
    ``symmetry`` (True) and ``threads`` (1 to 1,024) with ``pct_runs``; ``pct_steps`` (100),
    ``pct_depth`` (3) and ``seed`` (0) without it. Raises ScenarioError for a bad field or argument
    (a scenario with ``tlb_evict_rate`` > 0 included: the checker does not explore unrelated
    evictions; and a machine past the checker's limits: at most 8 CPUs, 32 tasks, 256 slots, 1,024
    pages), WallClockExceeded past ``max_wall_seconds`` (past it in the timed-witness search, the
    verdict is returned with no witness and a ``witness_note`` saying so), KeyboardInterrupt on
    Ctrl-C or a cancelled ``cancel`` token. A kernel BUG reached by some interleaving is the verdict
    ``bug``, not an exception. Cost, on the default machine on this project's 2-core machine with
    its load: about 700,000 to 970,000 states per second breadth-first on both cores (450,000 to
    620,000 on one thread), and 740,000 to 930,000 depth-first, which runs on one (eight alternated
    calls of each; ``python benches/report.py``, row g of docs/performance.md, measures it); memory
    of about 100 bytes a state seen, plus a machine held for each state of the next breadth-first
    level (up to ``max_frontier`` of them, packed: 2.0 KiB on the default machine, 26 KiB on the
    largest), or for the last 256 states of the depth-first path and every 256th below them; on
    several threads, also the new states of the jobs not merged yet (peak 42 MB against 36 MB on
    one, for the default machine; docs/verification.md).
    """
    changes: dict[str, Any] = {
        k: v
        for k, v in dict(
            strategy=strategy, cpus=cpus, last_pkmap=slots, pages=pages, tasks=tasks
        ).items()
        if v is not None
    }
    if scenario is None:
        sc = check_machine(**{"slots" if k == "last_pkmap" else k: v for k, v in changes.items()})
    elif isinstance(scenario, Scenario):
        sc = scenario.replace(**changes) if changes else scenario
    else:
        raise ScenarioTypeError.got("scenario", scenario, "a kmapsim.Scenario, or None")
    if sc.tlb_evict_rate != 0:
        raise ScenarioError.of(
            "tlb_evict_rate",
            f"{quote(sc.tlb_evict_rate)}: the checker does not explore unrelated evictions",
            "0 for check (set tlb_evict_rate = 0; the simulator's default is not 0)",
        )
    exhaustive = dict(
        max_states=max_states,
        max_depth=max_depth,
        max_frontier=max_frontier,
        max_ipis=max_ipis,
        symmetry=symmetry,
        threads=threads,
    )
    _one_search(
        pct_runs is not None, exhaustive, dict(pct_steps=pct_steps, pct_depth=pct_depth, seed=seed)
    )
    opts = _core.Options(
        sc.to_dict(), 0, "step", None, None, None, False,
        _wall_limit(max_wall_seconds), _cancel_token(cancel), None, False,
    )  # fmt: skip
    tries = _int_arg("witness_tries", witness_tries, 0, 2**32 - 1)
    if pct_runs is not None:
        return _pct(
            sc, opts, pct_runs, _given(pct_steps, 100), _given(pct_depth, 3), _given(seed, 0), tries
        )
    states = _int_arg("max_states", _given(max_states, MAX_STATES), 1, 2**63 - 1)
    depth = _int_arg("max_depth", _given(max_depth, MAX_DEPTH), 1, 2**32 - 1)
    frontier = _int_arg("max_frontier", _given(max_frontier, MAX_FRONTIER), 1, 2**63 - 1)
    ipis = 2**32 - 1 if max_ipis is None else _ipi_bound(max_ipis)
    sym = _flag("symmetry", _given(symmetry, True))  # a numpy bool too; 1 is not a flag
    workers = _int_arg("threads", _given(threads, cores()), 1, MAX_THREADS)
    raw = _core.check(opts, (states, depth, frontier, ipis), sym, tries, workers)
    result = _result(sc, raw, states, depth)
    bound = dict(result.bound, max_frontier=frontier, max_ipis=max_ipis)
    return dataclasses.replace(result, bound=bound)


#: The most threads `check` takes (more than any machine it runs on has cores).
MAX_THREADS = 1024


def cores() -> int:
    """The cores this process may run on at once: `check`'s default ``threads`` and the
    default sweep's thread count (the CPUs of its affinity mask, within a container's CPU quota;
    Rust's ``std::thread::available_parallelism``)."""
    return _core.cores()


def _given(value: object, default: object) -> Any:
    """``value``, or ``default`` when it was not given (None)."""
    return default if value is None else value


def _one_search(
    pct: bool, exhaustive: Mapping[str, object], randomised: Mapping[str, object]
) -> None:
    """Refuse an argument of the search that does not run (``pct``: PCT's runs), rather than
    ignore it silently."""
    for name, value in (exhaustive if pct else randomised).items():
        if value is None:
            continue
        if pct:
            raise ScenarioError.of(
                name,
                f"{quote(value)} given with pct_runs, which replaces the exhaustive search it "
                "applies to",
                f"None (not given) with pct_runs, or {name} without pct_runs",
            )
        raise ScenarioError.of(
            name,
            f"{quote(value)} given without pct_runs: it applies to PCT's random runs only",
            f"None (not given), or pct_runs with {name}",
        )


def _ipi_bound(value: object) -> int:
    try:
        return _int_arg("max_ipis", value, 1, 2**32 - 2)
    except ScenarioError as e:
        raise type(e).of("max_ipis", e.problem, f"None (no bound), or {e.allowed}") from None


def _pct(
    sc: Scenario,
    opts: _core.Options,
    runs: object,
    steps: object,
    depth: object,
    seed: object,
    tries: int,
) -> CheckResult:
    """`check` with ``pct_runs``: randomised runs instead of the exhaustive search."""
    r = _int_arg("pct_runs", runs, 1, 2**63 - 1)
    k = _int_arg("pct_steps", steps, 1, 2**32 - 1)
    d = _int_arg("pct_depth", depth, 1, 64)
    s = _int_arg("seed", seed, 0, 2**64 - 1)
    raw = _core.pct(opts, r, k, d, s, tries)
    result = _result(sc, raw, r * k, k, pct=True)  # PCT's runs end it, neither bound
    p = float(raw["chance_per_run"])
    miss = (1.0 - p) ** r if result.counterexample is None else 0.0
    info = dict(runs=r, steps=k, depth=d, seed=s, chance_per_run=p, miss_chance=miss)
    return dataclasses.replace(result, pct=info)


def _result(
    sc: Scenario, raw: dict[str, Any], states: int, depth: int, pct: bool = False
) -> CheckResult:
    run = None if raw["result"] is None else RunResult.from_raw(sc, raw["result"])
    steps = None
    if raw["steps"] is not None and run is not None:
        by_cycle: dict[int, list[tuple[int, str, dict[str, Any]]]] = {}
        tr = run.trace
        for cycle, cpu, kind, fields in zip(
            tr["cycle"].tolist(), tr["cpu"].tolist(), tr["event"].tolist(), tr["fields"].tolist(),
            strict=True,
        ):  # fmt: skip
            by_cycle.setdefault(int(cycle), []).append((int(cpu), str(kind), dict(fields)))
        steps = tuple(
            CheckStep(
                index=i,
                event=s["event"],
                on=int(s["on"]),
                label=str(s["label"]),
                choices=tuple(int(c) for c in s["choices"]),
                trace=tuple(by_cycle.get(i + 1, ())),
            )
            for i, s in enumerate(raw["steps"])
        )
    bound: dict[str, object] = dict(
        cpus=sc.cpus,
        slots=sc.last_pkmap,
        pages=sc.pages,
        tasks=sc.tasks if sc.tasks else sc.cpus,
        max_states=states,
        max_depth=depth,
    )
    if raw["verdict"] == "bound reached" and not pct:
        # Which one ended the search, as the search knows it (a search can use exactly
        # max_states states and still be stopped by the depth bound).
        bound["reached"] = "max_states" if raw["state_bound"] else "max_depth"
    return CheckResult(
        verdict=raw["verdict"],
        states=int(raw["states"]),
        transitions=int(raw["transitions"]),
        depth=int(raw["depth"]),
        seconds=float(raw["seconds"]),
        bound=bound,
        symmetry=tuple(str(x) for x in raw["symmetry"]),
        shortest=bool(raw["shortest"]),
        pruned=int(raw["pruned"]),
        depth_first_from=None if raw["depth_first_from"] is None else int(raw["depth_first_from"]),
        scenario=sc,
        counterexample=steps,
        message=str(raw["message"]),
        run=run,
        witness=_witness(raw["witness"]),
        witness_note=str(raw["witness_note"]),
        witness_seconds=float(raw["witness_seconds"]),
    )


def _witness(raw: dict[str, Any] | None) -> Witness | None:
    if raw is None:
        return None
    import pandas as pd

    from kmapsim.calls import CALL_COLUMNS

    with owned_frames():  # the frame was built for the witness: no copy of it
        return Witness(
            scenario=Scenario.from_dict(raw["scenario"]),
            calls=pd.DataFrame(raw["calls"], columns=list(CALL_COLUMNS)),
            seed=int(raw["seed"]),
            cycles=int(raw["cycles"]),
            tries=int(raw["tries"]),
        )
