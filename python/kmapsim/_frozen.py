"""Read-only containers for the values results hand out.

A result's derived figures (throughput, the repr, ``to_dict``) read its tables: a caller who
could change a table in place would silently change those figures. So results hold
`FrozenDict` and `FrozenList`, hand out read-only numpy arrays, and give a fresh copy of each
DataFrame on every access (`copied_frame`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, NoReturn, TypeVar, cast

__all__ = [
    "CopiedField",
    "FrozenDict",
    "FrozenList",
    "copied_frame",
    "freeze_mapping",
    "frozen_rows",
    "frozen_setattr",
    "sealed",
    "thaw",
]

_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")


class FrozenDict(dict[_K, _V]):
    """A dict that refuses changes (TypeError, as a ``MappingProxyType`` does). Still a dict,
    so ``json.dumps``, pandas and ``isinstance(x, dict)`` take it; equal to a dict of the same
    items; hashable when its values are; pickles as itself."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            "this dict belongs to a result and is read-only; copy it with dict(...) to change it"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would rebuild it with __setitem__, which it refuses.
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict[_K, _V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict[_K, _V]:
        import copy

        return type(self)(copy.deepcopy(dict(self), memo))

    def __repr__(self) -> str:
        return dict.__repr__(self)


class FrozenList(list[_V]):
    """A list that refuses changes (TypeError, as a tuple does). Still a list, so it equals a
    list of the same items and JSON and pandas take it; hashable when its items are; pickles
    as itself."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            "this list belongs to a result and is read-only; copy it with list(...) to change it"
        )

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would rebuild it with append/extend, which it refuses.
        return (type(self), (list(self),))

    def __copy__(self) -> FrozenList[_V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList[_V]:
        import copy

        return type(self)(copy.deepcopy(list(self), memo))

    def __repr__(self) -> str:
        return list.__repr__(self)


def thaw(value: Any) -> Any:
    """A plain copy of a frozen value (FrozenDict to dict, tuple to list, recursively), for
    code that builds JSON or fills a frame from it."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def frozen_rows(rows: Iterable[Iterable[_T]]) -> FrozenList[FrozenList[_T]]:
    """Rows (lists of lists from the engine) as a read-only list of read-only lists."""
    return FrozenList(FrozenList(row) for row in rows)


class copied_frame(Generic[_T]):
    """Like ``functools.cached_property`` for a DataFrame (or None), but every access returns
    a copy of the cached frame, so changing what one caller got cannot change what the result
    reports to the next."""

    def __init__(self, build: Callable[[Any], _T]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.key = f"_{build.__name__}_frame"

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = f"_{name}_frame"

    def __get__(self, obj: Any, owner: type | None = None) -> _T:
        if obj is None:
            return self  # type: ignore[return-value]
        cache = obj.__dict__
        if self.key not in cache:
            cache[self.key] = self.build(obj)
        frame = cache[self.key]
        return cast(_T, None if frame is None else frame.copy())


def frozen_setattr(obj: object, name: str, value: object) -> NoReturn:
    """The ``__setattr__`` of a frozen public class: a FrozenInstanceError (an AttributeError)
    that says the class is frozen, how to get a changed copy, and which field a misspelled
    name meant."""
    import dataclasses

    from kmapsim import _core
    from kmapsim._quote import quote

    fields = [f.name for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj) else []
    meant = name if name in fields else _core.closest(name, fields)
    hint = "" if meant in (name, None) else f" (did you mean {meant!r}?)"
    how = ""
    if hasattr(obj, "replace"):
        how = f"; make a changed copy with .replace({meant or 'field'}={quote(value)})"
    raise dataclasses.FrozenInstanceError(
        f"cannot assign to {name!r}{hint}: {type(obj).__name__} is frozen{how}"
    )


def freeze_mapping(m: Mapping[_K, _V]) -> FrozenDict[_K, _V]:
    """``m`` as a FrozenDict (itself if it already is one)."""
    return m if isinstance(m, FrozenDict) else FrozenDict(m)


#: Set within `owned_frames`: a CopiedField keeps the frame it is given instead of a copy.
_OWNED: contextvars.ContextVar[bool] = contextvars.ContextVar("kmapsim_owned", default=False)


@contextlib.contextmanager
def owned_frames() -> Iterator[None]:
    """Within it, a `CopiedField` keeps the frame it is given rather than a copy: for the
    value's own constructors, whose frame was built for it and is held by nobody else (a
    100,000-point sweep's frame need not be copied to be the result's own)."""
    token = _OWNED.set(True)
    try:
        yield
    finally:
        _OWNED.reset(token)


class CopiedField:
    """A dataclass field that holds a DataFrame and hands out a copy on every access (set on
    the class after ``@dataclass``, which then assigns through it). It keeps a copy of the
    frame it is given too: the caller's frame, changed later, must not change a frozen value."""

    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.__doc__ = doc

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.name].copy()

    def __set__(self, obj: Any, value: Any) -> None:
        copy = getattr(value, "copy", None)
        if _OWNED.get() or not callable(copy):
            obj.__dict__[self.name] = value
        else:
            obj.__dict__[self.name] = copy()


def _frozen_delattr(obj: object, name: str) -> NoReturn:
    import dataclasses

    raise dataclasses.FrozenInstanceError(
        f"cannot delete field {name!r}: {type(obj).__name__} is frozen"
    )


_C = TypeVar("_C", bound=type)


def sealed(cls: _C) -> _C:
    """A frozen dataclass whose assignments raise `frozen_setattr`'s error (dataclass's own
    raises a bare one, and with ``slots=True`` a confusing TypeError from ``super()``)."""
    cls.__setattr__ = frozen_setattr  # type: ignore[assignment]
    cls.__delattr__ = _frozen_delattr  # type: ignore[assignment]
    return cls
