"""Operation lists: drive the CPUs from recorded or measured operations instead of the random
dbench-like workload.

One row is one iteration of a CPU's program (docs/model.md, section 3):

========  ===================================================================
column    meaning
========  ===================================================================
cpu       the CPU (0 .. cpus-1); each CPU's rows run in file order
work      cycles of work before the kmap (>= 1)
irq_lock  the interrupts-off lock taken after the work, or -1 for none
irq_hold  cycles that lock is held (>= 1 when irq_lock >= 0, else ignored)
page      the highmem page kmapped (0 .. pages-1)
irqs_off  1 if the kmap is made with interrupts disabled (the misuse switch)
switch    1 if a context switch follows the kunmap
========  ===================================================================

The copy between kmap and kunmap takes the scenario's ``copy_cycles``. A CPU whose rows run out
stays idle (category ``idle``) for the rest of the run. As a CSV file: a header line with these
column names (any order), one row per operation, ``#`` comments allowed; see
``examples/replay_small.csv``. A run with ``record_ops=True`` returns its own operations in this
form (`RunResult.ops`), and replaying them with the same scenario and seed reproduces the run.

From a real kernel, bpftrace probes on ``kmap_high``/``kunmap_high`` (page address, CPU, time
stamps) give ``page`` and the gaps between calls, which become ``work``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kmapsim.errors import ScenarioError

__all__ = ["OPS_COLUMNS", "ops_frame", "read_ops", "to_columns", "write_ops"]

OPS_COLUMNS = ["cpu", "work", "irq_lock", "irq_hold", "page", "irqs_off", "switch"]
_DEFAULTS = {"irq_lock": -1, "irq_hold": 0, "irqs_off": 0, "switch": 0}


def _frame(ops: pd.DataFrame | Mapping[int, Any]) -> pd.DataFrame:
    if isinstance(ops, pd.DataFrame):
        frame = ops
    elif isinstance(ops, Mapping):
        parts = []
        for cpu, rows in ops.items():
            part = pd.DataFrame(rows)
            part.insert(0, "cpu", int(cpu))
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    else:
        raise ScenarioError.of(
            "replay", f"got {type(ops).__name__}", "a DataFrame or a mapping cpu -> rows"
        )
    missing = [c for c in ("cpu", "work", "page") if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in OPS_COLUMNS]
    if missing or unknown:
        raise ScenarioError.of(
            "replay",
            f"missing columns {missing}" if missing else f"unknown columns {unknown}",
            "columns "
            + ", ".join(OPS_COLUMNS)
            + " (irq_lock, irq_hold, irqs_off, switch optional)",
        )
    frame = frame.assign(**{k: v for k, v in _DEFAULTS.items() if k not in frame.columns})
    for col in OPS_COLUMNS:
        values = frame[col]
        if not (pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values)):
            raise ScenarioError.of("replay", f"column {col} is {values.dtype}", "integers")
        low = -1 if col == "irq_lock" else 0
        if len(values) and int(values.min()) < low:
            raise ScenarioError.of("replay", f"column {col} has {int(values.min())}", f">= {low}")
    return frame[OPS_COLUMNS]


def to_columns(ops: pd.DataFrame | Mapping[int, Any]) -> tuple[list[Any], ...]:
    """The engine's form: one Python list per column, in `OPS_COLUMNS` order."""
    frame = _frame(ops)
    return tuple(
        frame[c].astype(bool).tolist() if c in ("irqs_off", "switch") else frame[c].tolist()
        for c in OPS_COLUMNS
    )


def read_ops(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an operation list from CSV (format in this module's docstring)."""
    p = Path(path)
    try:
        frame = pd.read_csv(p, comment="#", skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ScenarioError.of("replay", f"cannot read {p}: {e}", "a CSV operation list") from e
    return _frame(frame)


def write_ops(ops: pd.DataFrame | Mapping[int, Any], path: str | os.PathLike[str]) -> Path:
    """Write an operation list as CSV, readable by `read_ops`."""
    p = Path(path)
    _frame(ops).to_csv(p, index=False)
    return p


def ops_frame(rows: Sequence[tuple[int, int, int, int, int, bool, bool]]) -> pd.DataFrame:
    """Recorded ops from the engine as a frame with `OPS_COLUMNS`."""
    frame = pd.DataFrame(rows, columns=OPS_COLUMNS)
    return frame.astype({c: np.int64 for c in OPS_COLUMNS})
