"""Which built-in variant stands for a kernel release (``numacheck verify --kernel 6.1``).

A variant's ``versions`` is a range ``FIRST .. LAST`` of releases (``6.0 .. 6.1``,
``4.0-rc4 .. 4.0-rc5``, ``6.11 .. current``).  A plain release as the first bound includes its
release candidates (the changes of a merge window are in its rc1), as the last bound it includes
its stable updates; ``current`` is open-ended.  Where ranges overlap (``4.0 .. 4.8`` and
``4.0-rc4 .. 4.0-rc5``) the narrower one wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from numacheck.model.expr import ModelError
from numacheck.model.variant import Variant

#: (major, minor, rc); a final release sorts after its release candidates.
Release = tuple[int, int, int]

FINAL = 99
_RELEASE = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:-rc(\d+))?")


class KernelVersionError(ModelError):
    """A ``--kernel`` value that is not a release or that no built-in variant covers."""


def parse_release(text: str) -> Release:
    """``6.1`` / ``v6.1`` / ``6.1.55`` (a stable update of 6.1) / ``4.0-rc4`` as a Release."""
    m = _RELEASE.fullmatch(text.strip())
    if m is None:
        raise KernelVersionError(
            f"--kernel {text!r} is not a kernel release; write it as 6.1, 6.1.55 or 4.0-rc4")
    rc = int(m.group(3)) if m.group(3) else FINAL
    return int(m.group(1)), int(m.group(2)), rc


def covered_range(variant: Variant) -> tuple[Release, Release]:
    """The first and last release ``variant.versions`` names, bounds included."""
    first, _, last = (part.strip() for part in variant.versions.partition(".."))
    low = parse_release(first)
    if low[2] == FINAL:
        low = (low[0], low[1], 0)  # a plain first bound includes its release candidates
    high = (10**6, 0, 0) if last == "current" else parse_release(last or first)
    return low, high


def _span(low: Release, high: Release) -> int:
    def ordinal(r: Release) -> int:
        return (r[0] * 1000 + r[1]) * 1000 + r[2]
    return ordinal(high) - ordinal(low)


def for_kernel(release: str, variants: Iterable[Variant]) -> Variant:
    """The variant whose range covers ``release``: the narrowest, if several do."""
    wanted = parse_release(release)
    ranges = [(covered_range(v), v) for v in variants]
    covering = [(r, v) for r, v in ranges if r[0] <= wanted <= r[1]]
    if not covering:
        known = ", ".join(f"{v.versions} ({v.name})" for _, v in ranges)
        raise KernelVersionError(f"no built-in variant covers kernel {release}; covered: {known}")
    return min(covering, key=lambda rv: _span(*rv[0]))[1]
