"""Symmetry reduction: each state replaced by a canonical member of its orbit.

The model names groups of interchangeable objects (:class:`~numacheck.model.system.Interchangeable`).
A group the model does not vouch for is proved here: for a transposition and a cycle of its
objects (which generate every permutation), renaming the objects' fields must map the initial
states, the set of actions, and every obligation onto themselves, compared after sorting the
arguments of commutative operators.  A vouched group (anonymous frames) comes with a
precondition, checked on every state the search expands; when it fails the search is redone
without the reduction.

Canonical form, computed for a whole batch: for every permutation of the processes, the frames
are relabelled in the order their references first appear (unreferenced frames after, ordered by
their own fields), then the nodes in the order they first appear among the fields that name a
node (fields that mean nothing, a free frame's node, stay 0), and the lexicographically smallest
of the resulting rows is the canonical one.  Relabelling by first appearance does not depend on
the original labels, so the result is the same for every member of an orbit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from numacheck.checker.engines.visited import less
from numacheck.checker.lowering.arrays import Array, Evaluator, Layout, Words
from numacheck.model.expr import Expr, rebuild, substitute
from numacheck.model.system import Interchangeable, Obligation, TransitionSystem

_COMMUTATIVE = ("and", "or", "add", "eq")


class _Normal:
    """Expressions with the arguments of commutative operators in a canonical order.

    Expressions are interned for the life of the process (``model/expr.py``), so their ids are
    stable keys; one instance serves every proof of the process, because the eras share most
    of their expressions (and so most of the work).  Its tables are never cleared: they hold a
    few thousand entries for every built-in era and instance together."""

    def __init__(self) -> None:
        self.keys: dict[int, int] = {}
        self.forms: dict[int, Expr] = {}
        #: Per renaming (its mapping's fields and the expressions they become), what
        #: :func:`substitute` made of each node already.
        self.renamings: dict[tuple[tuple[str, str, int], ...], dict[int, Expr]] = {}

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

    def memo(self, mapping: dict[tuple[str, str], Expr]) -> dict[int, Expr]:
        """The substitution memo of ``mapping``, shared by every proof that renames the same way."""
        key = tuple(sorted((op, name, id(e)) for (op, name), e in mapping.items()))
        return self.renamings.setdefault(key, {})

    def renamed(self, e: Expr, mapping: dict[tuple[str, str], Expr], memo: dict[int, Expr]) -> Expr:
        """The normal form of ``e`` with its fields renamed (``memo``: one per mapping)."""
        return self.form(substitute(e, mapping, memo))


_NORMAL = _Normal()


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
    norm = _NORMAL
    # a transposition and a cycle generate every permutation (for two objects they are one)
    perms = list(dict.fromkeys([(1, 0, *range(2, n)), (*range(1, n), 0)])) if n > 1 else []
    index: dict[tuple[object, ...], set[int]] = {}

    def action_key(guard: Expr, updates: Sequence[tuple[str, Expr]]) -> tuple[object, ...]:
        return (norm.form(guard), frozenset((name, norm.form(e)) for name, e in updates))

    for i, a in enumerate(ts.actions):
        index.setdefault(action_key(a.guard, a.updates), set()).add(i)
    for perm in perms:
        names = _renaming(group, perm)
        mapping = {(op, old): ts.schema.var(new) if op == "var" else ts.schema.next(new)
                   for old, new in names.items() for op in ("var", "next")}
        memo = norm.memo(mapping)
        inits = {frozenset(v.items()) for v in ts.init}
        renamed_inits = {frozenset((names.get(k, k), v) for k, v in init.items()) for init in ts.init}
        if inits != renamed_inits:
            return f"{group.name}: the initial states are not symmetric"
        image: dict[int, set[int]] = {}
        for i, a in enumerate(ts.actions):
            key = (norm.renamed(a.guard, mapping, memo),
                   frozenset((names.get(f, f), norm.renamed(e, mapping, memo)) for f, e in a.updates))
            targets = index.get(key)
            if not targets:
                return f"{group.name}: renaming maps action {a.label} to no action"
            image[i] = targets
        for ob in obligations:
            for e in (ob.invariant, ob.sometimes):
                if e is not None and norm.renamed(e, mapping, memo) is not norm.form(e):
                    return f"{group.name}: property {ob.name} is not symmetric"
            for table in (ob.steps, ob.situation_steps):
                have = {(i, norm.form(e)) for i, e in table}
                for i, e in table:
                    if not any((j, norm.renamed(e, mapping, memo)) in have for j in image[i]):
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


def _ints(rows: Words, where: tuple[int, int], width: int) -> Array:
    """:func:`_bits` as int64 (a view: the values are small)."""
    return _bits(rows, where, width).view(np.int64)


#: Rows canonicalised at once.
BLOCK = 1 << 17

#: The type decoded fields and the labels computed from them take: small, so that the
#: elementwise work of canonical forms moves little memory.
SMALL = np.int16


def _total(parts: Sequence[Array], n: int) -> Array:
    """The elementwise sum of boolean or small integer arrays."""
    out = np.zeros(n, dtype=SMALL)
    for part in parts:
        out += part
    return out


@dataclass
class _Decoded:
    """The columns canonical forms read, decoded from a batch once: the fields naming frames
    or nodes, each frame's own bits, and where a node field means something."""

    cols: dict[str, Array]
    blocks: list[Array]
    live: dict[str, Array]


#: One permutation of a nested group: the moves of its objects' slots, and per reference field
#: the renaming of the values naming them.
_NestedPerm = tuple[list[_Run], list[tuple[str, dict[int, int]]]]


def _shape(group: Interchangeable, groups: Sequence[Interchangeable]) -> str:
    """How the engine reduces ``group``: ``objects`` (processes) and ``named objects`` (frames,
    named by reference fields) are relabelled to a canonical order, ``values`` (nodes) by first
    appearance, and ``nested objects`` (pages, whose slots lie inside other groups' objects) by
    trying every permutation."""
    if not group.slots:
        return "values"
    if not group.references:
        return "objects"
    mine = {name for slot in group.slots for name in slot}
    inside = any(mine & {name for slot in g.slots for name in slot} for g in groups if g is not group)
    return "nested objects" if inside else "named objects"


class Symmetry:
    """Canonical forms under the accepted groups; ``exact`` when every group was proved, so
    that orbit sizes count concrete states.

    A batch is decoded once (:class:`_Decoded`).  A permutation of processes moves each
    process's bits in the words (one shift and mask per contiguous run of fields) and renames
    the decoded columns; frames are renumbered and nodes relabelled on those columns with
    elementwise operations only, and the results written back into the words.
    """

    def __init__(self, ts: TransitionSystem, groups: Sequence[Interchangeable], exact: bool) -> None:
        layout = self.layout = Layout(ts.schema)
        self.exact = exact
        self.described = ", ".join(g.name for g in groups)
        #: What the canonical forms depend on besides the schema: two systems with equal
        #: reductions are reduced alike (expressions are interned, so their ids stand for them).
        self.reduction = repr([exact, *((g.name, g.slots, g.references, g.values, g.vouched,
                                         id(g.precondition), [id(e) for e in g.live],
                                         g.values_by_reference) for g in groups)])
        #: The vouched groups' preconditions: the search evaluates them with every batch it expands.
        self.preconditions = list({
            id(g.precondition): g.precondition for g in groups if g.precondition is not None}.values())
        procs = [g for g in groups if _shape(g, groups) == "objects"]
        frames = [g for g in groups if _shape(g, groups) == "named objects"]
        values = [g for g in groups if _shape(g, groups) == "values"]
        nested = [g for g in groups if _shape(g, groups) == "nested objects"]
        self.nested_perms = self._nested_plan(nested[0]) if nested else [([], [])]
        # Per permutation of the processes, the moves building the permuted state, and for
        # each field of a process the field of the original state it takes its value from.
        self.clear = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        self.perms: list[list[_Run]] = [[]]
        self.orders: list[tuple[int, ...]] = [()]
        self.renames: list[dict[str, str]] = [{}]
        self.process_slots: tuple[tuple[str, ...], ...] = ()
        if procs:
            slots = self.process_slots = procs[0].slots
            self._clear(self.clear, [name for slot in slots for name in slot])
            self.orders = list(itertools.permutations(range(len(slots))))
            self.perms = [[run for k, src in enumerate(perm) for run in _runs(layout, slots[src], slots[k])]
                          for perm in self.orders]
            self.renames = [{name: slots[src][t] for k, src in enumerate(perm)
                             for t, name in enumerate(slots[k])} for perm in self.orders]
        self.frames = frames[0] if frames else None
        self.frame_clear = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        self.frame_width = 0
        self.first_value = 0
        if self.frames is not None:
            fr = self.frames
            self.frame_runs = [_runs(layout, fr.slots[0], slot) for slot in fr.slots]
            self.frame_width = sum(layout.schema[f].width for f in fr.slots[0])
            if any(len(r) != 1 for r in self.frame_runs) or self.frame_width > 40:
                raise ValueError(f"{fr.name}: each object's fields must be adjacent in one word")
            self._clear(self.frame_clear, [*(name for slot in fr.slots for name in slot), *fr.references])
            values_ = list(fr.values)
            if values_ != list(range(values_[0], values_[0] + len(values_))):
                raise ValueError(f"{fr.name}: the values naming the objects must be consecutive")
            self.first_value = values_[0]
        self.nodes = values[0] if values else None
        node_live = [(name, e) for name, e in zip(self.nodes.references, self.nodes.live, strict=False)
                     if e is not None] if self.nodes is not None else []
        self.node_live_names = [name for name, _ in node_live]
        self.node_live = Evaluator(layout, [e for _, e in node_live])
        self.node_clear = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        # A frame's own node field (by frame), moved with the frame; its place in the frame's bits.
        self.frame_node: list[str | None] = [None] * (len(self.frames.slots) if self.frames else 0)
        self.frame_node_shift = 0
        self.frame_node_mask = np.uint64(0)
        self._node_bits = 0
        if self.nodes is not None:
            nodes = self.nodes
            if list(nodes.values) != list(range(len(nodes.values))):
                raise ValueError(f"{nodes.name}: the values must be 0, 1, ...")
            self._clear(self.node_clear, nodes.references)
            self._node_bits = len(nodes.references).bit_length()
            if self.frames is not None:
                names = set(nodes.references)
                for j, slot in enumerate(self.frames.slots):
                    self.frame_node[j] = next((n for n in slot if n in names), None)
                first = self.frame_node[0]
                if first is not None:
                    self.frame_node_shift = layout.place[first][1] - self.frame_runs[0][0].dst[1]
                    f = layout.schema[first]
                    self.frame_node_mask = np.uint64(((1 << f.width) - 1) << self.frame_node_shift)
        self.signature = self._signature_plan()

    def _signature_plan(self) -> tuple[list[list[tuple[int, int, int, int]]], list[list[str]],
                                       list[list[str]], int] | None:
        """How :meth:`_signatures` reads a process: its own bits (neither naming a frame nor a
        node) as (word, offset, mask, width) per word they lie in, its fields naming a frame,
        its fields naming a node, and the bits each frame reference's code takes; None when
        too wide."""
        if not self.process_slots:
            return None
        layout, fr = self.layout, self.frames
        refs = set(fr.references) if fr is not None else set()
        node_fields = set(self.nodes.references) if self.nodes is not None else set()
        ref_bits = 0
        if fr is not None:
            count_bits = len(fr.references).bit_length()
            value_bits = max(layout.schema[name].hi for name in fr.references).bit_length()
            ref_bits = 1 + max(value_bits, count_bits + self._frame_key_bits())
        own_runs, ref_fields, node_own = [], [], []
        for slot in self.process_slots:
            own = [name for name in slot if name not in refs and name not in node_fields]
            pieces: dict[int, list[tuple[int, int]]] = {}
            for name in own:
                w, off = layout.place[name]
                if layout.schema[name].width:
                    pieces.setdefault(w, []).append((off, layout.schema[name].width))
            spans = []
            for w, fields in sorted(pieces.items()):
                lo = min(off for off, _ in fields)
                hi = max(off + width for off, width in fields)
                mask = sum(((1 << width) - 1) << (off - lo) for off, width in fields)
                spans.append((w, lo, mask, hi - lo))
            own_runs.append(spans)
            ref_fields.append([name for name in slot if name in refs])
            node_own.append([name for name in slot if name in node_fields])
            width = (sum(span[3] for span in spans) + ref_bits * len(ref_fields[-1])
                     + self._node_bits * len(node_own[-1]))
            if width > 62:
                return None
        return own_runs, ref_fields, node_own, ref_bits

    def _frame_key_bits(self) -> int:
        return self.frame_width + (self._node_bits if self.frame_node and self.frame_node[0] else 0)

    def _nested_plan(self, group: Interchangeable) -> list[_NestedPerm]:
        """Per permutation of ``group``'s objects, the moves of their slots and, per reference,
        the renaming of the values that name them."""
        layout = self.layout
        self.nested_clear = np.full(layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        live = [(name, e) for name, e in zip(group.references, group.live, strict=False) if e is not None]
        self.nested_live_names = [name for name, _ in live]
        self.nested_live = Evaluator(layout, [e for _, e in live])
        self._clear(self.nested_clear, [name for slot in group.slots for name in slot])
        by_ref = group.values_by_reference or tuple(group.values for _ in group.references)
        self.nested = group
        plans = []
        for perm in itertools.permutations(range(len(group.slots))):
            runs = [run for k, src in enumerate(perm)
                    for run in _runs(layout, group.slots[src], group.slots[k])]
            maps = [(name, {values[src]: values[k] for k, src in enumerate(perm)})
                    for name, values in zip(group.references, by_ref, strict=True)]
            plans.append((runs, maps))
        return plans

    def _nested(self, rows: Words, plan: _NestedPerm) -> Words:
        """``rows`` with the nested objects permuted by ``plan`` (references that mean nothing,
        per ``live``, are left as they are)."""
        runs, maps = plan
        layout = self.layout
        out = rows & self.nested_clear
        for run in runs:
            out[:, run.dst[0]] |= _bits(rows, run.src, run.width) << np.uint64(run.dst[1])
        # the references, where they lie in the moved slots, moved already: rename their values
        live = dict(zip(self.nested_live_names, self.nested_live(out), strict=True))
        renamed = []
        for name, mapping in maps:
            col = layout.column(out, name)
            new = col
            for old, value in mapping.items():
                if old != value:
                    new = np.where(col == old, value, new)
            if name in live:
                new = np.where(live[name], new, col)
            renamed.append((name, new.astype(np.int64)))
        self._clear_rows(out, [name for name, _ in renamed])
        for name, new in renamed:
            self._put(out, name, new)
        return out

    @classmethod
    def of(cls, ts: TransitionSystem,
           obligations: Sequence[Obligation]) -> tuple[Symmetry | None, list[str]]:
        """The reduction ``ts`` admits for ``obligations``, and notes on what was left out."""
        accepted: list[Interchangeable] = []
        notes: list[str] = []
        for group in ts.symmetry:
            if len(group.slots or group.values) < 2:
                continue
            why = "" if group.vouched else disproof(ts, obligations, group)
            if why:
                notes.append(f"symmetry off for {why}")
            elif any(_shape(g, ts.symmetry) == _shape(group, ts.symmetry) for g in accepted):
                notes.append(f"symmetry off for {group.name}: one group of its shape is reduced already")
            else:
                accepted.append(group)
                if group.vouched:  # say what the reduction rests on: the model's word, checked
                    notes.append(f"symmetry over {group.name} vouched by the model ({group.reason}); "
                                 "its precondition is checked on every state explored")
        if not accepted:
            return None, notes
        return cls(ts, accepted, exact=not any(g.vouched for g in accepted)), notes

    def _clear(self, target: np.ndarray, names: Sequence[str]) -> None:
        for name in names:
            w, off = self.layout.place[name]
            target[w] &= ~np.uint64(((1 << self.layout.schema[name].width) - 1) << off)

    def _clear_rows(self, rows: Words, names: Sequence[str]) -> None:
        mask = np.full(self.layout.words, np.uint64(2**64 - 1), dtype=np.uint64)
        self._clear(mask, names)
        rows &= mask

    def _put(self, rows: Words, name: str, values: Array) -> None:
        """Write int64 ``values`` (within the field's range) into cleared field ``name``."""
        w, off = self.layout.place[name]
        lo = self.layout.schema[name].lo
        raw = values - lo if lo else values
        word = raw.view(np.uint64) if raw.dtype == np.int64 else raw.astype(np.uint64)
        rows[:, w] |= word << np.uint64(off)

    def _permuted(self, rows: Words, runs: list[_Run]) -> Words:
        if not runs:
            return rows.copy()
        out = rows & self.clear
        for run in runs:
            out[:, run.dst[0]] |= _bits(rows, run.src, run.width) << np.uint64(run.dst[1])
        return out

    # Decoding --------------------------------------------------------------------------------------
    def _decode(self, rows: Words) -> _Decoded:
        layout, fr, nodes = self.layout, self.frames, self.nodes
        names = [*(fr.references if fr is not None else ()), *(nodes.references if nodes is not None else ())]
        cols = {}
        for name in dict.fromkeys(names):
            col = _bits(rows, layout.place[name], layout.schema[name].width).astype(SMALL)
            cols[name] = col + SMALL(layout.schema[name].lo) if layout.schema[name].lo else col
        blocks = ([_ints(rows, runs[0].dst, self.frame_width) for runs in self.frame_runs]
                  if fr is not None else [])
        live: dict[str, Array] = {}
        if self.node_live_names:
            live = dict(zip(self.node_live_names, self.node_live(rows), strict=True))
        return _Decoded(cols, blocks, live)

    def _node_counts(self, dec: _Decoded, n: int) -> dict[str, Array]:
        """Per node field, how many meaningful node fields hold the same node (0 where the field
        itself means nothing): a key that does not depend on the nodes' labels."""
        nodes = self.nodes
        if nodes is None:
            return {}
        every = np.ones(n, dtype=bool)
        live = [dec.live.get(name, every) for name in nodes.references]
        cols = [dec.cols[name] for name in nodes.references]
        if len(nodes.values) == 2:
            ones = _total([np.where(m, c, SMALL(0)) for c, m in zip(cols, live, strict=True)], n)
            per_node = [_total(live, n) - ones, ones]
        else:
            per_node = [_total([(c == v) & m for c, m in zip(cols, live, strict=True)], n)
                        for v in range(len(nodes.values))]
        counts: dict[str, Array] = {}
        for name, col, m in zip(nodes.references, cols, live, strict=True):
            count = per_node[0]
            for v in range(1, len(per_node)):
                count = np.where(col == v, per_node[v], count)
            counts[name] = np.where(m, count, 0)
        return counts

    def _signatures(self, rows: Words, dec: _Decoded) -> Array | None:
        """Per row and process, a key that depends on the labels of neither frames nor nodes: the
        process's own bits, its nodes as counts (:meth:`_node_counts`), and for each of its
        fields naming a frame, that frame's own bits and node count, and how many fields name
        it (None when the key would not fit 62 bits)."""
        if self.signature is None:
            return None
        own_runs, ref_fields, node_own, ref_bits = self.signature
        fr = self.frames
        node_counts = self._node_counts(dec, len(rows))
        counts: dict[str, Array] = {}
        keys: list[Array] = []
        if fr is not None:
            for name in fr.references:
                counts[name] = _total([dec.cols[name] == dec.cols[other] for other in fr.references],
                                      len(rows))
            for j, block in enumerate(dec.blocks):
                key = block & ~np.int64(self.frame_node_mask)
                node = self.frame_node[j]
                if node is not None:
                    key = (key << self._node_bits) | node_counts[node]
                keys.append(key)
        frame_bits = self._frame_key_bits()
        sig = np.zeros((len(rows), len(self.process_slots)), dtype=np.int64)
        for k in range(len(self.process_slots)):
            key = np.zeros(len(rows), dtype=np.int64)
            for w, off, mask, width in own_runs[k]:
                key = (key << width) | ((rows[:, w] >> np.uint64(off)) & np.uint64(mask)).view(np.int64)
            for name in node_own[k]:
                key = (key << self._node_bits) | node_counts[name]
            for name in ref_fields[k]:
                assert fr is not None
                col = dec.cols[name]
                frame_key = np.zeros(len(rows), dtype=np.int64)
                for j, fk in enumerate(keys):
                    frame_key = np.where(col == self.first_value + j, fk, frame_key)
                named = (col >= self.first_value) & (col < self.first_value + len(keys))
                anon = (1 << (ref_bits - 1)) | (counts[name] << frame_bits) | frame_key
                key = (key << ref_bits) | np.where(named, anon, col)
            sig[:, k] = key
        return sig

    # One candidate ---------------------------------------------------------------------------------
    def _candidate(self, rows: Words, dec: _Decoded, o: int, at: Array | None) -> Words:
        """The rows at ``at`` (all when None) with the processes in order ``o``, then the frames
        renumbered by first reference (frames no field names after them, ordered by their own
        bits) and the nodes by first appearance among the meaningful node fields."""
        rename = self.renames[o]

        def col(name: str, table: dict[str, Array]) -> Array | None:
            found = table.get(rename.get(name, name))
            return found if found is None or at is None else found[at]

        words = self._permuted(rows if at is None else rows[at], self.perms[o])
        n = len(words)
        fr, nodes = self.frames, self.nodes
        rank: list[Array] = []
        blocks: list[Array] = []
        if fr is not None:
            refs = [col(name, dec.cols) for name in fr.references]
            objects, total = len(fr.slots), len(fr.references)
            keys = []
            for k in range(objects):
                first = np.full(n, total, dtype=SMALL)
                for r in range(total - 1, -1, -1):
                    first = np.where(refs[r] == self.first_value + k, r, first)
                block = dec.blocks[k] if at is None else dec.blocks[k][at]
                blocks.append(block)
                keys.append((first.astype(np.int64) << 40) | block)
            # rank[k]: the new label of frame k, how many frames order before it (ties, only
            # between identical unnamed frames, by old label)
            for k in range(objects):
                rank.append(_total([(keys[j] < keys[k]) if j > k else (keys[j] <= keys[k])
                                    for j in range(objects) if j != k], n))
            words &= self.frame_clear
            for name, ref in zip(fr.references, refs, strict=True):
                assert ref is not None
                new = ref
                for k in range(objects):
                    new = np.where(ref == self.first_value + k, self.first_value + rank[k], new)
                self._put(words, name, new)
            moved = []
            for j, runs in enumerate(self.frame_runs):
                block = blocks[0]
                for k in range(1, objects):
                    block = np.where(rank[k] == j, blocks[k], block)
                moved.append(block)
                w, off = runs[0].dst
                words[:, w] |= block.astype(np.uint64) << np.uint64(off)
        if nodes is not None:
            vals: list[Array] = []
            live: list[Array | None] = []
            for name in nodes.references:
                j = self.frame_node.index(name) if name in self.frame_node else -1
                if j >= 0:  # a frame's node moves with the frame: frame j is the one ranked j
                    width = self.layout.schema[name].width
                    vals.append((moved[j] >> self.frame_node_shift) & ((1 << width) - 1))
                    lives = [dec.live.get(self.frame_node[k] or "") for k in range(len(rank))]
                    m: Array | None = None
                    if all(x is not None for x in lives):
                        got = [x if at is None else x[at] for x in lives if x is not None]
                        m = got[0]
                        for k in range(1, len(rank)):
                            m = np.where(rank[k] == j, got[k], m)
                    live.append(m)
                else:
                    vals.append(col(name, dec.cols))  # type: ignore[arg-type]
                    live.append(col(name, dec.live))
            words &= self.node_clear
            for name, new in zip(nodes.references, self._first_appearance(vals, live, n), strict=True):
                self._put(words, name, new)
        return words

    def _first_appearance(self, vals: list[Array], live: list[Array | None], n: int) -> list[Array]:
        """Node values renumbered in the order they first appear among the live fields (fields
        not live become 0)."""
        assert self.nodes is not None
        if len(self.nodes.values) == 2:  # relabelling is exchanging when the first live is 1
            first = np.zeros(n, dtype=np.int64)
            for v, m in zip(reversed(vals), reversed(live), strict=True):
                first = v if m is None else np.where(m, v, first)
            return [v ^ first if m is None else np.where(m, v ^ first, 0)
                    for v, m in zip(vals, live, strict=True)]
        every = np.arange(n)
        label = np.full((n, len(self.nodes.values)), -1, dtype=np.int64)
        taken = np.zeros(n, dtype=np.int64)
        out = []
        for v, m in zip(vals, live, strict=True):
            mask = np.ones(n, dtype=bool) if m is None else m
            fresh = mask & (label[every, v] < 0)
            label[every[fresh], v[fresh]] = taken[fresh]
            taken += fresh
            out.append(np.where(mask, label[every, v], 0))
        return out

    def _candidates(self, rows: Words) -> list[Words]:
        dec = self._decode(rows)
        return [self._candidate(rows, dec, o, None) for o in range(len(self.orders))]

    # What the search uses ------------------------------------------------------------------------
    def canonical(self, rows: Words) -> Words:
        """The canonical member of each row's orbit.

        Only the permutations of processes that sort them by their label-free keys
        (:meth:`_signatures`) are tried for a row; ties try every order among the tied ones.
        Those permutations move with the processes and ignore frame and node labels, so the set
        of candidates, and its smallest member, is the same for every member of an orbit.  A
        nested group (pages) is reduced outside that: the smallest canonical form over every
        permutation of its objects (they commute with the other groups).
        """
        if len(rows) > BLOCK:  # in blocks whose temporaries stay in the cache
            return np.concatenate([self.canonical(rows[i:i + BLOCK]) for i in range(0, len(rows), BLOCK)])
        if len(rows) == 0:
            return rows
        if len(self.nested_perms) == 1:
            return self._canonical(rows)
        best = self._canonical(self._nested(rows, self.nested_perms[0]))
        for plan in self.nested_perms[1:]:
            cand = self._canonical(self._nested(rows, plan))
            smaller = less(cand, best)
            best[smaller] = cand[smaller]
        return best

    def _canonical(self, rows: Words) -> Words:
        """The canonical form under every group but the nested one."""
        dec = self._decode(rows)
        sig = self._signatures(rows, dec)
        if sig is None:
            best = self._candidate(rows, dec, 0, None)
            for o in range(1, len(self.orders)):
                c = self._candidate(rows, dec, o, None)
                smaller = less(c, best)
                best[smaller] = c[smaller]
            return best
        best = np.full_like(rows, np.uint64(2**64 - 1))
        for o, order in enumerate(self.orders):
            ok = np.ones(len(rows), dtype=bool)
            for a, b in itertools.pairwise(order):
                ok &= sig[:, a] <= sig[:, b]
            if ok.all():
                cand = self._candidate(rows, dec, o, None)
                smaller = less(cand, best)
                best[smaller] = cand[smaller]
                continue
            at = np.flatnonzero(ok)
            if len(at) == 0:
                continue
            cand = self._candidate(rows, dec, o, at)
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
