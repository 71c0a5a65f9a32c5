"""Every public callable of the API has a docstring: the modules' ``__all__`` (and the
package's), and every public method and property of their classes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import is_dataclass
from typing import Any

import kmapsim

#: Members a class inherits from the standard library or pandas, documented there.
_INHERITED_FROM = (object, Exception, BaseException, dict, list, tuple)


def _modules() -> Iterator[Any]:
    yield kmapsim
    yield kmapsim._core
    for info in pkgutil.iter_modules(kmapsim.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"kmapsim.{info.name}")


def _public(module: Any) -> Iterator[tuple[str, Any]]:
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj) or callable(obj):
            owner = getattr(obj, "__module__", "") or ""
            if owner.startswith("kmapsim"):
                yield f"{module.__name__}.{name}", obj


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods, properties and computed attributes (pyo3 getters, cached frames); not
    data fields."""
    for name, attr in vars(cls).items():
        if name.startswith("_") or any(name in vars(base) for base in _INHERITED_FROM):
            continue
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        computed = isinstance(attr, property) or inspect.isgetsetdescriptor(attr)
        # A pyo3 class's getters of stored fields are member descriptors; a dataclass's are
        # its fields, documented in the class's docstring.
        computed = computed or (inspect.ismemberdescriptor(attr) and not is_dataclass(cls))
        computed = computed or (hasattr(attr, "__get__") and hasattr(attr, "__set_name__"))
        if (callable(attr) and not inspect.isclass(attr)) or computed:
            yield name, attr


def _missing() -> list[str]:
    out = []
    seen: set[int] = set()
    for module in _modules():
        for qual, obj in _public(module):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if not (obj.__doc__ or "").strip():
                out.append(qual)
            if inspect.isclass(obj):
                for name, attr in _members(obj):
                    if not (getattr(attr, "__doc__", None) or "").strip():
                        out.append(f"{qual}.{name}")
    return sorted(set(out))


def test_every_public_callable_has_a_docstring() -> None:
    missing = _missing()
    assert not missing, "no docstring: " + ", ".join(missing)


def test_a_store_shows_its_path(tmp_path: Any) -> None:
    with kmapsim.Store(tmp_path / "s.db") as store:
        assert repr(store) == f"Store({str(tmp_path / 's.db')!r})"
    assert repr(store).startswith("Store(")  # closed: still a repr
