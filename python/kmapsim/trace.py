"""The engine's optional event trace as a pandas DataFrame.

A traced run (``kmapsim.run(..., trace=N)``) keeps the most recent ``N`` events. Each row is one
event: ``cycle``, ``cpu``, ``event`` (its kind, e.g. ``mapped``, ``ipi_sent``, ``stale_read``),
``detail`` (its fields as readable text) and ``fields`` (the same as a dict). docs/model.md lists
the kinds and their fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRACE_COLUMNS", "empty_trace", "trace_frame"]

TRACE_COLUMNS = ["cycle", "cpu", "event", "detail", "fields"]


def empty_trace() -> pd.DataFrame:
    """The frame of an untraced run: the right columns, no rows."""
    return trace_frame([])


def trace_frame(raw: Sequence[tuple[int, int, str, Mapping[str, Any]]]) -> pd.DataFrame:
    """Events as the engine reports them, ``(cycle, cpu, kind, fields)``, oldest first."""
    import pandas as pd

    rows = [
        (cycle, cpu, kind, " ".join(f"{k}={v}" for k, v in fields.items()), fields)
        for cycle, cpu, kind, fields in raw
    ]
    frame = pd.DataFrame(rows, columns=TRACE_COLUMNS)
    return frame.astype({"cycle": "int64", "cpu": "int64", "event": "str", "detail": "str"})
