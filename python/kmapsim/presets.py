"""Named, documented machines: the starting points of studies.

A preset is only a description and the fields it sets differently from the scenario defaults; it
holds no Scenario itself, so this module needs neither the engine nor `kmapsim.scenario`, and
`Scenario.preset` validates the values when it builds one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kmapsim.errors import ScenarioError

__all__ = ["PRESETS", "Preset", "describe_preset", "get_preset", "preset_names"]


@dataclass(frozen=True)
class Preset:
    """A named machine: ``values`` are the scenario fields that differ from the defaults."""

    name: str
    description: str
    values: Mapping[str, int | float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read-only, so that a preset cannot be changed by whoever looked it up.
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))


def _registry(*presets: Preset) -> Mapping[str, Preset]:
    return MappingProxyType({p.name: p for p in presets})


#: Every preset by name.
PRESETS: Mapping[str, Preset] = _registry(
    Preset(
        name="pIII-8way-2001",
        description=(
            "The machine of the 2001 lse-tech mail that proposed the asynchronous flush_tlb_all():"
            " an 8-way 700 MHz Pentium III Xeon running dbench on Linux 2.4 without PAE"
            " (LAST_PKMAP = 1024). These are the scenario defaults. No sourced PIII-era IPI or"
            " TLB costs exist: the 1400-cycle (2 us) IPI delivery is an assumption, and a natural"
            " sweep parameter."
        ),
    ),
)


def preset_names() -> list[str]:
    """The preset names, sorted."""
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a ScenarioError (field ``"preset"``) naming the known ones."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        pass
    names = preset_names()
    problem = f"unknown preset {name!r}"
    close = difflib.get_close_matches(str(name), names, n=1)
    if close:
        problem += f" (did you mean {close[0]!r}?)"
    raise ScenarioError.of("preset", problem, "one of " + ", ".join(names))


def describe_preset(name: str) -> str:
    """The description of preset ``name``."""
    return get_preset(name).description
