"""kmapsim: simulate CPUs contending on the Linux 2.4 highmem ``kmap_lock`` during TLB shootdowns.

>>> import kmapsim
>>> sc = kmapsim.Scenario.preset("pIII-8way-2001", cpus=8, strategy="sync")
>>> r = kmapsim.run(sc, cycles=2_000_000, seed=1)
>>> r.counters["kmaps"] > 0
True

The engine is Rust (`kmapsim._core`); this package is the thin typed layer around it.
"""

# ruff: noqa: E402
# First, before numpy and the engine load: Ctrl-C while the command line starts exits quietly.
from kmapsim._interrupt import guard_startup

guard_startup()

from typing import TYPE_CHECKING, Any

from kmapsim import _core
from kmapsim._core import CancelToken
from kmapsim.checker import CheckResult, CheckStep, check
from kmapsim.errors import (
    DeadlockError,
    InternalError,
    KernelBug,
    KmapsimError,
    ScenarioError,
    ScenarioFileError,
    ScenarioTypeError,
    SimulationBusy,
    WallClockExceeded,
)
from kmapsim.histogram import Histogram
from kmapsim.presets import describe_preset, preset_names
from kmapsim.result import RunResult, StaleAccess
from kmapsim.runner import run
from kmapsim.scenario import Scenario
from kmapsim.simulation import Simulation, Snapshot
from kmapsim.store import Store, StoreError, StoreWarning
from kmapsim.sweep import PoolExecutor, SweepResult, sweep

# pandas (with pyarrow, about 70 MB) is imported only by what needs it: results build their
# DataFrames on first use, and these modules load on first access. (The function `sweep` is
# bound after the module `kmapsim.sweep` is imported, so that the name means the function.)
_LAZY = {
    "plots": ("kmapsim.plots", None),
    "replay": ("kmapsim.replay", None),
    "perfetto": ("kmapsim.perfetto", None),
    "study": ("kmapsim.study", None),
}

if TYPE_CHECKING:
    from kmapsim import perfetto, plots, replay, study


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'kmapsim' has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


__version__: str = _core.__version__

#: Cycle categories, in the column order of `RunResult.breakdown`.
CATEGORIES: list[str] = _core.CATEGORIES
#: Counter names every `RunResult.counters` has.
COUNTERS: list[str] = _core.COUNTERS
#: Histogram names every `RunResult.histograms` has.
HISTOGRAMS: list[str] = _core.HISTOGRAMS
#: Task states, in the column order of `RunResult.task_breakdown`.
TASK_STATES: list[str] = _core.TASK_STATES


def workloads() -> list[tuple[str, str]]:
    """The workloads a scenario's ``workload`` field names, in the order of its choices, each
    as ``(name, doc)``: one line on the kernel path it stands for. ``custom`` runs the
    scenario's own ``program``. ``kmapsim workloads`` prints the same.

    >>> [name for name, _ in workloads()][:2]
    ['dbench', 'file-read']
    """
    return [(str(name), str(doc)) for name, doc in _core.WORKLOADS]


__all__ = [
    "CATEGORIES",
    "COUNTERS",
    "HISTOGRAMS",
    "TASK_STATES",
    "CancelToken",
    "CheckResult",
    "CheckStep",
    "DeadlockError",
    "Histogram",
    "InternalError",
    "KernelBug",
    "KmapsimError",
    "PoolExecutor",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "ScenarioFileError",
    "ScenarioTypeError",
    "Simulation",
    "SimulationBusy",
    "Snapshot",
    "StaleAccess",
    "Store",
    "StoreError",
    "StoreWarning",
    "SweepResult",
    "WallClockExceeded",
    "__version__",
    "check",
    "describe_preset",
    "perfetto",
    "plots",
    "preset_names",
    "replay",
    "run",
    "study",
    "sweep",
    "workloads",
]
