"""The properties numacheck checks, by name."""

from __future__ import annotations

from numacheck.model.expr import ModelError
from numacheck.properties import numa, safety, tracking
from numacheck.properties.base import Property

BUILTIN: dict[str, Property] = {
    p.name: p for p in (*numa.PROPERTIES, *safety.PROPERTIES, *tracking.PROPERTIES)}


class UnknownPropertyError(ModelError):
    """A property name numacheck does not know."""


def resolve(name: str) -> Property:
    """The built-in property called ``name``."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise UnknownPropertyError(f"unknown property {name!r}; known: {', '.join(BUILTIN)}") from None
