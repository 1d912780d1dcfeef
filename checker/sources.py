"""Where a variant's expectation and a property's definition live, as ``path:line``.

Reports point reviewers there (SARIF locations, HTML links); paths inside the project are
given relative to its root, so the same run on another checkout names the same places.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from numacheck.model.variant import Variant
from numacheck.properties.base import Property

#: The project root: the folder holding model/, properties/, checker/ and reports/.
ROOT = Path(__file__).resolve().parent.parent


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _line_of(path: Path, needles: tuple[str, ...]) -> int:
    """The first line containing the first needle found (1 when none is)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 1
    for needle in needles:
        for number, line in enumerate(lines, 1):
            if needle in line:
                return number
    return 1


def variant_location(variant: Variant, prop: str) -> str:
    """The line of ``variant``'s expectation for ``prop``, else of its name."""
    if not variant.source:
        return ""
    path = Path(variant.source)
    needles = ('"' + prop + '"', '"' + variant.name + '"')
    return f"{_relative(path)}:{_line_of(path, needles)}"


def property_location(prop: Property) -> str:
    """The line where ``prop``'s predicate is defined."""
    fn = prop.invariant or prop.check
    if fn is None:
        return ""
    file = inspect.getsourcefile(fn)
    if file is None:
        return ""
    return f"{_relative(Path(file))}:{fn.__code__.co_firstlineno}"
