"""Symmetry reduction: each state replaced by a canonical member of its orbit.

The model names groups of interchangeable objects (:class:`~numacheck.model.system.Interchangeable`).
A group the model does not vouch for is proved here: for a transposition and a cycle of its
objects (which generate every permutation), renaming the objects' fields must map the initial
states, the set of actions, and every obligation onto themselves, compared after sorting the
arguments of commutative operators.  A vouched group (anonymous frames) comes with a
precondition, checked on every state the search stores; when it fails the search is redone
without the reduction.

Canonical form, computed for a whole batch: for every permutation of the processes, the frames
are relabelled in the order their references first appear (unreferenced frames after, ordered by
their own fields), and the lexicographically smallest of the resulting rows is the canonical
one.  Relabelling by first reference does not depend on the original labels, so the result is the
same for every member of an orbit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from numacheck.checker.engines.visited import less
from numacheck.checker.lowering.arrays import Array, Layout, Values, Words, field_leaf
from numacheck.model.expr import Expr, rebuild, substitute
from numacheck.model.system import Interchangeable, Obligation, TransitionSystem

_COMMUTATIVE = ("and", "or", "add", "eq")


class _Normal:
    """Expressions with the arguments of commutative operators in a canonical order."""

    def __init__(self) -> None:
        self.keys: dict[int, int] = {}
        self.forms: dict[int, Expr] = {}

    def key(self, e: Expr) -> int:
        found = self.keys.get(id(e))
        if found is None:
            args = [self.key(a) for a in e.args]
            if e.op in _COMMUTATIVE:
                args.sort()
            found = self.keys[id(e)] = hash((e.op, e.kind, e.payload, *args))
        return found

    def form(self, e: Expr) -> Expr:
        found = self.forms.get(id(e))
        if found is None:
            if not e.args:
                found = e
            else:
                args = [self.form(a) for a in e.args]
                if e.op in _COMMUTATIVE:
                    args.sort(key=self.key)
                found = rebuild(e, args)
            self.forms[id(e)] = found
        return found

    def renamed(self, e: Expr, mapping: dict[tuple[str, str], Expr]) -> Expr:
        """The normal form of ``e`` with its fields renamed."""
        return self.form(substitute(e, mapping))


def _renaming(group: Interchangeable, perm: Sequence[int]) -> dict[str, str]:
    return {name: group.slots[perm[k]][t]
            for k, slot in enumerate(group.slots) for t, name in enumerate(slot)}


def disproof(ts: TransitionSystem, obligations: Sequence[Obligation],
             group: Interchangeable) -> str:
    """Why renaming ``group``'s objects does not map ``ts`` and ``obligations`` onto
    themselves, or "" when it does (for a transposition and a cycle, hence for all)."""
    n = len(group.slots)
    if group.references:
        return f"{group.name}: fields that name an object cannot be renamed by this proof"
    norm = _Normal()
    perms = [tuple([1, 0, *range(2, n)]), tuple([*range(1, n), 0])] if n > 1 else []
    index: dict[tuple[object, ...], set[int]] = {}

    def action_key(guard: Expr, updates: Sequence[tuple[str, Expr]]) -> tuple[object, ...]:
        return (norm.form(guard), frozenset((name, norm.form(e)) for name, e in updates))

    for i, a in enumerate(ts.actions):
        index.setdefault(action_key(a.guard, a.updates), set()).add(i)
    for perm in perms:
        names = _renaming(group, perm)
        mapping = {(op, old): ts.schema.var(new) if op == "var" else ts.schema.next(new)
                   for old, new in names.items() for op in ("var", "next")}
        inits = {frozenset(v.items()) for v in ts.init}
        renamed_inits = {frozenset((names.get(k, k), v) for k, v in init.items()) for init in ts.init}
        if inits != renamed_inits:
            return f"{group.name}: the initial states are not symmetric"
        image: dict[int, set[int]] = {}
        for i, a in enumerate(ts.actions):
            key = (norm.renamed(a.guard, mapping),
                   frozenset((names.get(f, f), norm.renamed(e, mapping)) for f, e in a.updates))
            targets = index.get(key)
            if not targets:
                return f"{group.name}: renaming maps action {a.label} to no action"
            image[i] = targets
        for ob in obligations:
            for e in (ob.invariant, ob.sometimes):
                if e is not None and norm.renamed(e, mapping) is not norm.form(e):
                    return f"{group.name}: property {ob.name} is not symmetric"
            for table in (ob.steps, ob.situation_steps):
                have = {(i, norm.form(e)) for i, e in table}
                for i, e in table:
                    if not any((j, norm.renamed(e, mapping)) in have for j in image[i]):
                        return f"{group.name}: property {ob.name} is not symmetric"
    return ""


@dataclass(frozen=True)
class _Run:
    """Bits moved as one piece: ``width`` bits at ``src`` (word, offset) go to ``dst``."""

    src: tuple[int, int]
    dst: tuple[int, int]
    width: int


def _runs(layout: Layout, src: Sequence[str], dst: Sequence[str]) -> list[_Run]:
    """The moves that copy fields ``src`` into fields ``dst`` (same shapes), adjacent fields
    merged into one move where both sides are contiguous."""
    runs: list[_Run] = []
    for a, b in zip(src, dst, strict=True):
        width = layout.schema[a].width
        if width == 0:
            continue
        sa, sb = layout.place[a], layout.place[b]
        if runs:
            last = runs[-1]
            if (last.src[0] == sa[0] and last.dst[0] == sb[0]
                    and last.src[1] + last.width == sa[1] and last.dst[1] + last.width == sb[1]):
                runs[-1] = _Run(last.src, last.dst, last.width + width)
                continue
        runs.append(_Run(sa, sb, width))
    return runs


def _bits(rows: Words, where: tuple[int, int], width: int) -> Array:
    word, off = where
    return (rows[:, word] >> np.uint64(off)) & np.uint64((1 << width) - 1)


class Symmetry:
    """Canonical forms under the accepted groups; ``exact`` when every group was proved, so
    that orbit sizes count concrete states.

    Everything works on the packed words: a permutation of processes moves each process's bits
    (one shift and mask per contiguous run of fields), and frames are renumbered by rewriting
    the reference fields and moving the frames' own bits.
    """

    def __init__(self, ts: TransitionSystem, groups: Sequence[Interchangeable], exact: bool) -> None:
        layout = self.layout = Layout(ts.schema)
        self.exact = exact
        self.described = ", ".join(g.name for g in groups)
        self.preconditions = [g.precondition for g in groups if g.precondition is not None]
        procs = [g for g in groups if not g.references]
        frames = [g for g in groups if g.references]
        # Per permutation of the processes, the moves building the permuted state.
        self.clear = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        self.perms: list[list[_Run]] = [[]]
        self.orders: list[tuple[int, ...]] = [()]
        self.process_slots: tuple[tuple[str, ...], ...] = ()
        if procs:
            slots = self.process_slots = procs[0].slots
            for slot in slots:
                self._clear(slot)
            self.orders = list(itertools.permutations(range(len(slots))))
            self.perms = [[run for k, src in enumerate(perm) for run in _runs(layout, slots[src], slots[k])]
                          for perm in self.orders]
        self.frames = frames[0] if frames else None
        if self.frames is not None:
            fr = self.frames
            self.frame_runs = [_runs(layout, fr.slots[0], slot) for slot in fr.slots]
            self.frame_width = sum(layout.schema[f].width for f in fr.slots[0])
            if any(len(r) != 1 for r in self.frame_runs) or self.frame_width > 40:
                raise ValueError(f"{fr.name}: each object's fields must be adjacent in one word")
            self.frame_clear = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
            for slot in fr.slots:
                self._clear(slot, self.frame_clear)
            self._clear(fr.references, self.frame_clear)
            values = list(fr.values)
            if values != list(range(values[0], values[0] + len(values))):
                raise ValueError(f"{fr.name}: the values naming the objects must be consecutive")
            self.first_value = values[0]
        self.signature = self._signature_plan()

    def _signature_plan(self) -> tuple[list[list[_Run]], list[list[str]], int] | None:
        """How :meth:`_signatures` reads a process: the runs of its own (non-reference) bits,
        its reference fields, and the bits each reference's code takes; None when too wide."""
        if not self.process_slots:
            return None
        layout, fr = self.layout, self.frames
        refs = set(fr.references) if fr is not None else set()
        ref_bits = 0
        if fr is not None:
            count_bits = len(fr.references).bit_length()
            value_bits = max(layout.schema[name].hi for name in fr.references).bit_length()
            ref_bits = 1 + max(value_bits, count_bits + self.frame_width)
        own_runs, ref_fields = [], []
        for slot in self.process_slots:
            own = [name for name in slot if name not in refs]
            own_runs.append(_runs(layout, own, own))
            ref_fields.append([name for name in slot if name in refs])
            width = sum(layout.schema[name].width for name in own) + ref_bits * len(ref_fields[-1])
            if width > 62:
                return None
        return own_runs, ref_fields, ref_bits

    @classmethod
    def of(cls, ts: TransitionSystem,
           obligations: Sequence[Obligation]) -> tuple[Symmetry | None, list[str]]:
        """The reduction ``ts`` admits for ``obligations``, and notes on what was left out."""
        accepted: list[Interchangeable] = []
        notes: list[str] = []
        for group in ts.symmetry:
            if len(group.slots) < 2:
                continue
            why = "" if group.vouched else disproof(ts, obligations, group)
            if why:
                notes.append(f"symmetry off for {why}")
            elif any(bool(g.references) == bool(group.references) for g in accepted):
                notes.append(f"symmetry off for {group.name}: one group of its shape is reduced already")
            else:
                accepted.append(group)
                if group.vouched:  # say what the reduction rests on: the model's word, checked
                    notes.append(f"symmetry over {group.name} vouched by the model ({group.reason}); "
                                 "its precondition is checked on every stored state")
        if not accepted:
            return None, notes
        return cls(ts, accepted, exact=not any(g.vouched for g in accepted)), notes

    def _clear(self, names: Sequence[str], into: np.ndarray | None = None) -> None:
        target = self.clear if into is None else into
        for name in names:
            w, off = self.layout.place[name]
            target[w] &= ~np.uint64(((1 << self.layout.schema[name].width) - 1) << off)

    def _permuted(self, rows: Words, runs: list[_Run]) -> Words:
        if not runs:
            return rows.copy()
        out = rows & self.clear
        for run in runs:
            out[:, run.dst[0]] |= _bits(rows, run.src, run.width) << np.uint64(run.dst[1])
        return out

    def _relabel(self, rows: Words) -> Words:
        """``rows`` (modified in place) with the frames renumbered by first reference, frames no
        field names after them, ordered by their own bits."""
        fr = self.frames
        if fr is None:
            return rows
        layout, objects = self.layout, len(fr.slots)
        refs = np.stack([layout.column(rows, name) for name in fr.references], axis=1).astype(np.int64)
        blocks = np.stack([_bits(rows, runs[0].dst, self.frame_width) for runs in self.frame_runs], axis=1)
        n, every = len(rows), np.arange(len(rows))
        first = np.full((n, objects), len(fr.references), dtype=np.int64)
        for r in range(len(fr.references) - 1, -1, -1):
            label = refs[:, r] - self.first_value
            named = (label >= 0) & (label < objects)
            first[every[named], label[named]] = r
        keys = (first << 40) | blocks.astype(np.int64)
        # rank[:, k]: the new label of frame k, how many frames order before it (ties, only
        # between identical unnamed frames, by old label)
        rank = np.zeros((n, objects), dtype=np.int64)
        for k in range(objects):
            for j in range(objects):
                if j != k:
                    rank[:, k] += (keys[:, j] < keys[:, k]) if j > k else (keys[:, j] <= keys[:, k])
        order = np.empty_like(rank)
        for k in range(objects):
            order[every, rank[:, k]] = k
        named = (refs >= self.first_value) & (refs < self.first_value + objects)
        relabelled = np.take_along_axis(rank, np.where(named, refs - self.first_value, 0), axis=1)
        refs = np.where(named, relabelled + self.first_value, refs)
        moved = np.take_along_axis(blocks, order, axis=1)
        rows &= self.frame_clear
        for c, name in enumerate(fr.references):
            f = layout.schema[name]
            w, off = layout.place[name]
            rows[:, w] |= (refs[:, c] - f.lo).astype(np.uint64) << np.uint64(off)
        for j, runs in enumerate(self.frame_runs):
            w, off = runs[0].dst
            rows[:, w] |= moved[:, j] << np.uint64(off)
        return rows

    def _candidates(self, rows: Words) -> list[Words]:
        return [self._relabel(self._permuted(rows, runs)) for runs in self.perms]

    def _signatures(self, rows: Words) -> Array | None:
        """Per row and process, a key that does not depend on the labels of frames: the process's
        own bits, and for each of its fields naming a frame, that frame's own bits and how many
        fields name it (None when the key would not fit 62 bits)."""
        if self.signature is None:
            return None
        own_runs, ref_fields, ref_bits = self.signature
        layout, fr = self.layout, self.frames
        columns: dict[str, Array] = {}
        counts: dict[str, Array] = {}
        blocks: list[Array] = []
        if fr is not None:
            columns = {name: layout.column(rows, name).astype(np.int64) for name in fr.references}
            for name, col in columns.items():
                counts[name] = sum((col == other).astype(np.int64) for other in columns.values())
            blocks = [_bits(rows, runs[0].dst, self.frame_width).astype(np.int64) for runs in self.frame_runs]
        sig = np.zeros((len(rows), len(self.process_slots)), dtype=np.int64)
        for k in range(len(self.process_slots)):
            key = np.zeros(len(rows), dtype=np.int64)
            for run in own_runs[k]:
                key = (key << run.width) | _bits(rows, run.src, run.width).astype(np.int64)
            for name in ref_fields[k]:
                assert fr is not None
                col = columns[name]
                label = col - self.first_value
                named = (label >= 0) & (label < len(fr.slots))
                block = np.zeros(len(rows), dtype=np.int64)
                for j, b in enumerate(blocks):
                    block = np.where(label == j, b, block)
                anon = (1 << (ref_bits - 1)) | (counts[name] << self.frame_width) | block
                key = (key << ref_bits) | np.where(named, anon, col)
            sig[:, k] = key
        return sig

    # What the search uses ------------------------------------------------------------------------
    def canonical(self, rows: Words) -> Words:
        """The canonical member of each row's orbit.

        Only the permutations of processes that sort them by their label-free keys
        (:meth:`_signatures`) are tried for a row; ties try every order among the tied ones.
        Those permutations move with the processes and ignore frame labels, so the set of
        candidates, and its smallest member, is the same for every member of an orbit.
        """
        if len(rows) == 0:
            return rows
        sig = self._signatures(rows)
        if sig is None:
            cands = self._candidates(rows)
            best = cands[0].copy()
            for c in cands[1:]:
                smaller = less(c, best)
                best[smaller] = c[smaller]
            return best
        best = np.full_like(rows, np.uint64(2**64 - 1))
        for order, runs in zip(self.orders, self.perms, strict=True):
            ok = np.ones(len(rows), dtype=bool)
            for a, b in itertools.pairwise(order):
                ok &= sig[:, a] <= sig[:, b]
            at = np.flatnonzero(ok)
            if len(at) == 0:
                continue
            cand = self._relabel(self._permuted(rows[at], runs))
            smaller = less(cand, best[at])
            best[at[smaller]] = cand[smaller]
        return best

    def orbit_sizes(self, rows: Words) -> Array:
        """How many concrete states each canonical row stands for (process groups only: there
        every member of a reachable orbit is reachable)."""
        if self.frames is not None:
            raise ValueError("orbit sizes are counted for process symmetry only")
        cands = self._candidates(rows)
        distinct = np.zeros(len(rows), dtype=np.int64)
        for i, c in enumerate(cands):
            new = np.ones(len(rows), dtype=bool)
            for d in cands[:i]:
                new &= ~np.all(c == d, axis=1)
            distinct += new
        return distinct

    def precondition_fails(self, rows: Words) -> bool:
        """Whether a vouched group's precondition is false in some row."""
        if not self.preconditions:
            return False
        values = Values(len(rows), field_leaf(self.layout, rows))
        return any(not values.mask(p).all() for p in self.preconditions)
