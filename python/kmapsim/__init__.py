"""kmapsim: simulate CPUs contending on the Linux 2.4 highmem ``kmap_lock`` during TLB shootdowns.

>>> import kmapsim
>>> sc = kmapsim.Scenario.preset("pIII-8way-2001", cpus=8, strategy="sync")
>>> r = kmapsim.run(sc, cycles=2_000_000, seed=1)
>>> r.counters["kmaps"] > 0
True

The engine is Rust (`kmapsim._core`); this package is the thin typed layer around it.
"""

from kmapsim import _core, plots, replay
from kmapsim.api import run
from kmapsim.errors import (
    DeadlockError,
    InternalError,
    KernelBug,
    KmapsimError,
    ScenarioError,
    ScenarioFileError,
    WallClockExceeded,
)
from kmapsim.histogram import Histogram
from kmapsim.presets import describe_preset, preset_names
from kmapsim.result import RunResult, StaleAccess
from kmapsim.scenario import Scenario
from kmapsim.simulation import Simulation, Snapshot
from kmapsim.store import Store, StoreError
from kmapsim.sweep import PoolExecutor, SweepResult, sweep

__version__: str = _core.__version__

#: Cycle categories, in the column order of `RunResult.breakdown`.
CATEGORIES: list[str] = _core.CATEGORIES
#: Counter names every `RunResult.counters` has.
COUNTERS: list[str] = _core.COUNTERS
#: Histogram names every `RunResult.histograms` has.
HISTOGRAMS: list[str] = _core.HISTOGRAMS

__all__ = [
    "CATEGORIES",
    "COUNTERS",
    "HISTOGRAMS",
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
    "Simulation",
    "Snapshot",
    "StaleAccess",
    "Store",
    "StoreError",
    "SweepResult",
    "WallClockExceeded",
    "__version__",
    "describe_preset",
    "plots",
    "preset_names",
    "replay",
    "run",
    "sweep",
]
