"""What the Python layer takes for a number, and how its messages name an integer range.

Anywhere a number is expected (scenario fields, the arguments of `kmapsim.run`, `Simulation`,
`sweep` and `Store`), an integer is any object with ``__index__`` (``int``, every numpy integer
scalar) and a number any object with ``__float__`` or ``__index__`` (also ``float`` and the numpy
float scalars). Bools (``bool``, ``numpy.bool_``), strings and numpy arrays, even 0-D ones, are
not numbers here, whatever methods they have. A flag (an argument such as ``record_ops`` or
``symmetry``) is a ``bool`` or a ``numpy.bool_``, and nothing else: not 0 or 1, not a string.
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["as_flag", "as_float", "as_fraction", "as_int", "bound_text", "int_range"]

#: Types refused as numbers although they convert to one: a flag is not a count, an array is not
#: a scalar, and a numpy time or duration (a subclass of numpy's integers) is not a count.
_NOT_NUMBERS = (bool, np.bool_, str, bytes, bytearray, np.ndarray, np.timedelta64, np.datetime64)


def as_int(value: object) -> int | None:
    """``value`` as a plain int if it is an integer (it has ``__index__``), else None."""
    if isinstance(value, _NOT_NUMBERS) or not hasattr(type(value), "__index__"):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except Exception:  # a broken or refusing __index__: not an integer
        return None


def as_flag(value: object) -> bool | None:
    """``value`` as a plain bool if it is one (``bool`` or ``numpy.bool_``), else None. An int
    is refused: ``symmetry=1`` is more likely a mistaken argument than a considered True."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return None


def as_float(value: object) -> float | None:
    """``value`` as a float if it is a number (an integer, or it has ``__float__``), else None.
    An integer too large for a float raises OverflowError, as ``float()`` does."""
    if isinstance(value, _NOT_NUMBERS):
        return None
    i = as_int(value)
    if i is not None:
        return float(i)
    if not hasattr(type(value), "__float__"):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise
    except Exception:  # a broken or refusing __float__: not a number
        return None


def int_range(lo: object, hi: object) -> str:
    """``an integer in [lo, hi]``, the bounds as the Rust core prints them (``700``, not
    ``700.0``): the allowed values of every integer argument and field."""
    return f"an integer in [{bound_text(lo)}, {bound_text(hi)}]"


def bound_text(x: object) -> str:
    """A bound as the Rust core prints it (``700``, not ``700.0``)."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def as_fraction(value: object) -> float | None:
    """``value`` as a float in [0, 1] if it is a number there, else None (NaN, a bool, a string
    and an integer past the float range included)."""
    try:
        f = as_float(value)
    except OverflowError:
        return None
    if f is None or not 0.0 <= f <= 1.0:  # written so that NaN fails too
        return None
    return f
