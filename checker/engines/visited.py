"""The explicit engine's visited set: states as rows of 64-bit words in one sorted array.

Memory is the states themselves, 8 bytes per word and nothing else (with one word, in a buffer
with up to a quarter of its rows spare).  A level's candidate
successors are sorted and deduplicated, located in the visited array by binary search, and the
new ones merged in (with one word, appended to the array's buffer and merged in place by a
stable sort of the two sorted runs), so a level costs a sort of its successors and a pass over
the array.  Rows are ordered lexicographically by word; with one word that is plain
``uint64`` order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from numacheck.checker.lowering.arrays import Words

#: Per row, the systems of a joint search it belongs to, one bit each (uint64).
Masks = np.ndarray


def _firsts(rows: Words) -> np.ndarray:
    """Of sorted ``rows`` (at least one), which is the first of its run of equal rows."""
    keep = np.empty(len(rows), dtype=bool)
    keep[0] = True
    if rows.shape[1] == 1:
        np.not_equal(rows[1:, 0], rows[:-1, 0], out=keep[1:])
    else:
        np.any(rows[1:] != rows[:-1], axis=1, out=keep[1:])
    return keep


def sort_unique(rows: Words, kind: Literal["quicksort", "stable"] = "quicksort") -> Words:
    """``rows`` sorted lexicographically, duplicates removed (one word: by a sort of ``kind``)."""
    if len(rows) == 0:
        return rows
    if rows.shape[1] == 1:
        rows = np.sort(rows[:, 0], kind=kind).reshape(-1, 1)
    else:
        rows = rows[np.lexsort(rows.T[::-1])]
    unique: Words = rows[_firsts(rows)]
    return unique


def sort_unique_masked(rows: Words, masks: Masks) -> tuple[Words, Masks]:
    """``rows`` sorted and deduplicated as :func:`sort_unique` does, each with the union of
    the ``masks`` (the systems of a joint search it belongs to) of its copies.  One word is
    ordered by a stable argsort: on successors, which come in sorted runs, 25-40% faster than
    the default one."""
    if len(rows) == 0:
        return rows, masks
    order = np.argsort(rows[:, 0], kind="stable") if rows.shape[1] == 1 else np.lexsort(rows.T[::-1])
    rows = rows[order]
    starts = np.flatnonzero(_firsts(rows))
    return rows[starts], np.bitwise_or.reduceat(masks[order], starts)


def merge_unique_masked(runs: list[tuple[Words, Masks]]) -> tuple[Words, Masks]:
    """:func:`merge_unique` of runs with masks, a row's masks joined."""
    if len(runs) == 1:
        return runs[0]
    return sort_unique_masked(np.concatenate([r for r, _ in runs]), np.concatenate([m for _, m in runs]))


def merge_unique(runs: list[Words]) -> Words:
    """The rows of several sorted, unique runs, sorted, duplicates removed.  With one word a
    stable sort merges the runs in about linear time."""
    return runs[0] if len(runs) == 1 else sort_unique(np.concatenate(runs), kind="stable")


def less(a: Words, b: Words) -> np.ndarray:
    """Row-wise lexicographic ``a < b``."""
    less = np.zeros(len(a), dtype=bool)
    equal = np.ones(len(a), dtype=bool)
    for w in range(a.shape[1]):
        less |= equal & (a[:, w] < b[:, w])
        equal &= a[:, w] == b[:, w]
    return less


def _bisect(column: np.ndarray, keys: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            right: bool) -> np.ndarray:
    """Per key, the first index in ``[lo, hi)`` of sorted ``column`` whose value is not below
    (``right``: not above) the key, every key searched at once."""
    lo, hi = lo.copy(), hi.copy()
    active = np.flatnonzero(lo < hi)
    while len(active):
        mid = (lo[active] + hi[active]) // 2
        value, key = column[mid], keys[active]
        up = value <= key if right else value < key
        lo[active[up]] = mid[up] + 1
        hi[active[~up]] = mid[~up]
        active = active[lo[active] < hi[active]]
    return lo


def rank(sorted_rows: Words, needles: Words) -> np.ndarray:
    """For each needle, the number of rows of ``sorted_rows`` lexicographically below it.

    The first word is searched by NumPy's binary search; each further word only within the
    (short) run of rows equal to the needle in the words before it.
    """
    if len(sorted_rows) == 0:
        return np.zeros(len(needles), dtype=np.int64)
    first = sorted_rows[:, 0]
    lo = np.searchsorted(first, needles[:, 0], side="left")
    if sorted_rows.shape[1] == 1:
        return lo
    hi = np.searchsorted(first, needles[:, 0], side="right")
    for w in range(1, sorted_rows.shape[1]):
        column, keys = sorted_rows[:, w], needles[:, w]
        below = _bisect(column, keys, lo, hi, right=False)
        if w + 1 < sorted_rows.shape[1]:
            hi = _bisect(column, keys, lo, hi, right=True)
        lo = below
    return lo


class Visited:
    """Every state found so far, sorted: with one word, the first rows of a buffer that grows
    by a quarter when full, so that adding a level writes into memory already in use instead of
    a new array the size of the set (where memory touched for the first time is slow, as on the
    machine the benchmarks ran on, a fresh array of hundreds of MiB costs more than the merge)."""

    def __init__(self, words: int, masked: bool = False) -> None:
        self.rows: Words = np.empty((0, words), dtype=np.uint64)
        self._buffer: Words = self.rows
        #: With ``masked`` (a joint search), per row the systems that have visited it.
        self.masks: Masks | None = np.empty(0, dtype=np.uint64) if masked else None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        """Bytes held (the buffer, spare rows included)."""
        return int(self._buffer.nbytes) + (0 if self.masks is None else int(self.masks.nbytes))

    def new(self, candidates: Words) -> Words:
        """The rows of ``candidates`` (sorted, unique) not yet visited, in order."""
        if len(self.rows) == 0 or len(candidates) == 0:
            return candidates
        at = rank(self.rows, candidates)
        np.minimum(at, len(self.rows) - 1, out=at)
        found: np.ndarray
        if candidates.shape[1] == 1:
            found = self.rows[at, 0] == candidates[:, 0]
        else:
            found = np.all(self.rows[at] == candidates, axis=1)
        fresh: Words = candidates[~found]
        return fresh

    def new_masked(self, candidates: Words, masks: Masks) -> tuple[Words, Masks, np.ndarray]:
        """The rows of ``candidates`` (sorted, unique) some system of their ``masks`` has not
        visited, with those systems, and whether each row is stored (visited by another)."""
        assert self.masks is not None
        if len(self.rows) == 0 or len(candidates) == 0:
            return candidates, masks, np.zeros(len(candidates), dtype=bool)
        at = np.minimum(rank(self.rows, candidates), len(self.rows) - 1)
        found = np.all(self.rows[at] == candidates, axis=1)
        masks = np.where(found, masks & ~self.masks[at], masks)
        keep = masks != 0
        return candidates[keep], masks[keep], found[keep]

    def add_masked(self, fresh: Words, masks: Masks) -> None:
        """Merge ``fresh`` (sorted, unique) in, each row visited by the systems of its mask."""
        assert self.masks is not None
        if len(fresh) == 0:
            return
        at = rank(self.rows, fresh)
        found = np.zeros(len(fresh), dtype=bool)
        inside = at < len(self.rows)
        found[inside] = np.all(self.rows[at[inside]] == fresh[inside], axis=1)
        self.masks[at[found]] |= masks[found]
        new = ~found
        if not new.any():
            return
        at = at[new] + np.arange(int(new.sum()))
        self.rows = self._buffer = _interleave(self.rows, fresh[new], at)
        self.masks = _interleave(self.masks, masks[new], at)

    def add(self, fresh: Words) -> None:
        """Merge ``fresh`` (sorted, unique, none visited) in."""
        if len(fresh) == 0:
            return
        n, total = len(self.rows), len(self.rows) + len(fresh)
        if self.rows.shape[1] == 1:
            if total > len(self._buffer):
                grown = np.empty((max(total, len(self._buffer) * 5 // 4), 1), dtype=np.uint64)
                grown[:n] = self.rows
                self._buffer = grown
            self._buffer[n:total] = fresh
            self._buffer[:total, 0].sort(kind="stable")  # two sorted runs: one linear merge, in place
            self.rows = self._buffer[:total]
            return
        at = rank(self.rows, fresh) + np.arange(len(fresh))
        self.rows = self._buffer = _interleave(self.rows, fresh, at)


def _interleave(old: np.ndarray, new: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A fresh array of ``old``'s and ``new``'s rows, ``new``'s at the (increasing) places
    ``at`` and ``old``'s in order around them."""
    out = np.empty((len(old) + len(new), *old.shape[1:]), dtype=old.dtype)
    rest = np.ones(len(out), dtype=bool)
    rest[at] = False
    out[at] = new
    out[rest] = old
    return out
