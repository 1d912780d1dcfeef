"""The properties numacheck checks, by name."""

from __future__ import annotations

from numacheck.model.expr import ModelError
from numacheck.model.instance import Instance
from numacheck.properties import gup, numa, safety, tracking
from numacheck.properties.base import Property

BUILTIN: dict[str, Property] = {
    p.name: p for p in (*numa.PROPERTIES, *safety.PROPERTIES, *tracking.PROPERTIES,
                       *gup.PROPERTIES)}


class UnknownPropertyError(ModelError):
    """A property name numacheck does not know."""


def covered_by(inst: Instance, areas: frozenset[str] | None = None) -> tuple[Property, ...]:
    """The built-in properties of the areas ``inst`` covers (and ``areas``, a variant's, if
    given): a property of an area left out would only find its situation unreachable."""
    return tuple(p for p in BUILTIN.values()
                 if p.area in inst.areas and (areas is None or p.area in areas))


def resolve(name: str) -> Property:
    """The built-in property called ``name``."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise UnknownPropertyError(f"unknown property {name!r}; known: {', '.join(BUILTIN)}") from None
