"""Values computed once per tuple of objects, keyed by the objects' identities.

The eras of a run share most of their actions, expressions and schemas (the same objects), so
what is derived from them alone can be derived once for all eras.  An entry holds the objects
its key names, so that no other object can take their ids while it lives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

_V = TypeVar("_V")


class ByIdentity(Generic[_V]):
    """A table of values by the identities of a tuple of objects, cleared when it reaches
    ``limit`` entries (so that a long process, such as the test suite, does not grow it
    without end)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._table: dict[tuple[int, ...], tuple[tuple[object, ...], _V]] = {}

    def __len__(self) -> int:
        return len(self._table)

    def get(self, objects: tuple[object, ...], make: Callable[[], _V]) -> _V:
        """The value for ``objects``: the one made before, else ``make()``, kept."""
        key = tuple(map(id, objects))
        found = self._table.get(key)
        if found is None:
            if len(self._table) >= self.limit:
                self._table.clear()
            found = self._table[key] = (objects, make())
        return found[1]
