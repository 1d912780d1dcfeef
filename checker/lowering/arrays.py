"""Expressions lowered to NumPy: one value per state for a whole batch of states at once.

The explicit engine evaluates every guard, update and property over a BFS level as arrays:
booleans as ``bool`` arrays, integers as ``int16`` arrays (every field range and literal of the
model is tiny), literals as NumPy scalars that broadcast.  Each node of the hash-consed
expression DAG is computed once per batch, by a :class:`Program` compiled once per system; a
batch that is a subset of another (the states an action is enabled in) gathers the values its
parent already computed instead of recomputing them.
States are rows of 64-bit words; :class:`Layout` places every field inside one word.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from typing import Any

import numpy as np

from numacheck.model.expr import OPS, Expr, ModelError, Value
from numacheck.model.schema import Schema

Array = np.ndarray
Words = np.ndarray  # shape (n, W), uint64

INT = np.int16
_INT_LIMIT = 2**14


class Layout:
    """Where every schema field lives in a state of ``words`` 64-bit words.

    Fields keep the schema's order; a field that would straddle a word boundary starts the next
    word.  With 64 bits or fewer the layout is the schema's own packing, word 0 is the packed
    integer, and conversions are free.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.place: dict[str, tuple[int, int]] = {}
        word, bit = 0, 0
        for f in schema.fields:
            if bit + f.width > 64:
                word, bit = word + 1, 0
            self.place[f.name] = (word, bit)
            bit += f.width
        self.words = word + 1
        self.same_as_schema = schema.bits <= 64
        self.bulk = [self._bulk(w) for w in range(self.words)]

    def _bulk(self, word: int) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray,
                                         np.ndarray]:
        """How :meth:`columns` decodes the fields of one word at once: the int fields' and the
        bool fields' names, then per field (ints first) its offset and mask, and the ints' lows."""
        fields = [f for f in self.schema.fields if f.width and self.place[f.name][0] == word]
        ints = [f for f in fields if f.kind != "bool"]
        bools = [f for f in fields if f.kind == "bool"]
        order = ints + bools
        return ([f.name for f in ints], [f.name for f in bools],
                np.array([[self.place[f.name][1]] for f in order], dtype=np.uint64).reshape(-1, 1),
                np.array([[(1 << f.width) - 1] for f in order], dtype=np.uint64).reshape(-1, 1),
                np.array([[f.lo] for f in ints], dtype=INT).reshape(-1, 1),
                np.array([f.lo != 0 for f in ints], dtype=bool))

    def columns(self, batch: Words) -> dict[str, Array]:
        """Every field's values over a batch (bool or int16), each word decoded at once."""
        out: dict[str, Array] = {}
        for w, (ints, bools, offsets, masks, lows, shifted) in enumerate(self.bulk):
            if not ints and not bools:
                continue
            raw = (batch[:, w][None, :] >> offsets) & masks
            if ints:
                values = raw[:len(ints)].astype(INT)
                if shifted.any():
                    values += lows
                out.update(zip(ints, values, strict=True))
            if bools:
                out.update(zip(bools, raw[len(ints):] != 0, strict=True))
        for f in self.schema.fields:
            if not f.width:
                out[f.name] = self.column(batch, f.name)
        return out

    def to_words(self, packed: int) -> tuple[int, ...]:
        """The words of a state packed by the schema."""
        if self.same_as_schema:
            return (packed,)
        out = [0] * self.words
        for name, value in self.schema.unpack(packed).items():
            f = self.schema[name]
            w, off = self.place[name]
            out[w] |= (int(value) - f.lo) << off
        return tuple(out)

    def to_packed(self, row: Sequence[int]) -> int:
        """The schema-packed integer of a row of words."""
        if self.same_as_schema:
            return int(row[0])
        values: dict[str, Value] = {}
        for f in self.schema.fields:
            w, off = self.place[f.name]
            raw = (int(row[w]) >> off) & ((1 << f.width) - 1)
            values[f.name] = bool(raw) if f.kind == "bool" else raw + f.lo
        return self.schema.pack(values)

    def rows(self, packed: Sequence[int]) -> Words:
        """A batch of schema-packed states as rows of words."""
        return np.array([self.to_words(s) for s in packed], dtype=np.uint64).reshape(-1, self.words)

    def column(self, batch: Words, name: str) -> Array:
        """The values of field ``name`` over a batch (bool or int16)."""
        f = self.schema[name]
        w, off = self.place[name]
        if f.width == 0:
            return np.full(len(batch), f.lo if f.kind == "int" else False,
                           dtype=bool if f.kind == "bool" else INT)
        if f.kind == "bool":
            bits: Array = (batch[:, w] & np.uint64(1 << off)) != 0
            return bits
        raw = (batch[:, w] >> np.uint64(off)) & np.uint64((1 << f.width) - 1)
        col = raw.astype(INT)
        return col + INT(f.lo) if f.lo else col


def _lit(e: Expr) -> Any:
    value = e.payload
    if isinstance(value, bool):
        return np.bool_(value)
    assert isinstance(value, int)
    if abs(value) >= _INT_LIMIT:
        raise ModelError(f"literal {value} is outside the range the array engine supports")
    return INT(value)


#: One handler per operator of the expression language, a NumPy function of the operator's
#: arguments (``const``, ``var`` and ``next`` are leaves and handled by :class:`Program`
#: itself).  The operators in ``NARY`` take any number of arguments: their handler is applied
#: pairwise, left to right.
HANDLERS: dict[str, Callable[..., Any]] = {
    "not": np.logical_not,
    "and": np.logical_and,
    "or": np.logical_or,
    "ite": np.where,
    "eq": np.equal,
    "lt": np.less,
    "le": np.less_equal,
    "add": np.add,
    "sub": np.subtract,
}
NARY = ("and", "or", "add")

#: ``and`` and ``or`` with a negated argument, in one call: on booleans ``x > y`` is ``x and not
#: y`` and ``x >= y`` is ``x or not y``.  A program reads a negation that only they need through
#: them, which saves computing it (negations are an eighth of the nodes of a built-in system).
_FUSED: dict[str, Callable[..., Any]] = {"and": np.greater, "or": np.greater_equal}
LEAVES = ("const", "var", "next")
assert set(HANDLERS) | set(LEAVES) == set(OPS), "every operator needs an array handler"


#: The bit of a run's ``wanted`` mask that every run sets: roots needed whatever is open.
ALWAYS = 1


class Program:
    """Expressions compiled for whole batches of states: their nodes in evaluation order, each
    node of the hash-consed DAG once, constant subexpressions folded when compiled.

    Each root comes with the bits of a ``wanted`` mask that need it (``ALWAYS``, or an
    obligation's bit), so a run skips what only settled obligations need.  ``inherit`` maps
    nodes to the slots of a parent program run over a superset of the batch (the states an
    action is enabled in are a subset of a level): a run gathers their values instead of
    recomputing them.  Compiling once and running a flat list per batch keeps the per-node cost
    to one array operation, which is what small BFS levels are made of.
    """

    def __init__(self, roots: Sequence[tuple[Expr, int]],
                 inherit: Mapping[int, int] | None = None) -> None:
        inherit = inherit or {}
        self.nodes: list[Expr] = []  # keeps every node alive while its id is a key here
        self.slot: dict[int, int] = {}
        self.bits: list[int] = []  # per slot, the bits of ``wanted`` that compute it
        need: dict[int, int] = {}
        constant: dict[int, Any] = {}
        for root, bits in roots:
            self._mark(root, bits, need, constant, inherit)
        self.template: list[Any] = []
        self.gathers: list[tuple[int, int, int]] = []
        self.leaves: list[tuple[int, str, str, int]] = []
        self.code: list[tuple[int, Callable[..., Any], int, int, int, int]] = []
        for root, _ in roots:
            self._emit(root, need, constant, inherit)

    @staticmethod
    def _mark(root: Expr, bits: int, need: dict[int, int], constant: dict[int, Any],
              inherit: Mapping[int, int]) -> None:
        """Add ``bits`` to the need of every node ``root`` reads (stopping at constants and
        inherited nodes), and fold the constant ones."""
        stack = [root]
        while stack:
            node = stack.pop()
            key = id(node)
            if need.get(key, 0) & bits == bits:
                continue
            need[key] = need.get(key, 0) | bits
            if key in inherit or _folded(node, constant) is not _VARIES:
                continue
            stack.extend(node.args)

    def _emit(self, root: Expr, need: dict[int, int], constant: dict[int, Any],
              inherit: Mapping[int, int]) -> None:
        stack: list[tuple[Expr, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            key = id(node)
            if key in self.slot:
                continue
            value = constant.get(key, _VARIES)
            if not ready and value is _VARIES and key not in inherit and node.args:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(self._operands(node, constant, inherit))
                             if id(a) not in self.slot)
                continue
            slot = self.slot[key] = len(self.template)
            self.nodes.append(node)
            self.bits.append(need[key])
            self.template.append(None if value is _VARIES else value)
            if value is not _VARIES:
                continue
            if key in inherit:
                self.gathers.append((slot, inherit[key], need[key]))
            elif node.op in LEAVES:
                self.leaves.append((slot, node.op, str(node.payload), need[key]))
            else:
                self._instructions(slot, node, need[key])

    def _operands(self, node: Expr, constant: dict[int, Any], inherit: Mapping[int, int]) -> list[Expr]:
        """What computing ``node`` reads: its arguments, except that a negation among the
        arguments of an ``and`` or ``or`` is read through (``_FUSED``), unless nothing else
        computes it already or every argument is one (the first is then computed)."""
        if node.op not in _FUSED or len(node.args) < 2:
            return list(node.args)
        through = [a.op == "not" and id(a) not in self.slot and id(a) not in inherit
                   and constant.get(id(a), _VARIES) is _VARIES for a in node.args]
        if all(through):
            through[0] = False
        return [a.args[0] if t else a for a, t in zip(node.args, through, strict=True)]

    def _instructions(self, slot: int, node: Expr, bits: int) -> None:
        """The instructions computing ``node`` into ``slot``: one per handler call, an n-ary
        operator's pairwise calls through temporary slots (a negation read through, one that
        :meth:`_operands` left uncomputed, by its fused handler)."""
        handler = HANDLERS[node.op]
        if node.op in NARY:
            operands = [(self.slot[id(a)], handler) if id(a) in self.slot
                        else (self.slot[id(a.args[0])], _FUSED[node.op]) for a in node.args]
            operands.sort(key=lambda o: o[1] is not handler)  # (stable) a computed one first
            if len(operands) == 1:  # a one-argument and/or/add is its argument
                self.code.append((slot, _same, operands[0][0], -1, -1, bits))
                return
            acc = operands[0][0]
            for k, (arg, step) in enumerate(operands[1:], start=2):
                target = slot if k == len(operands) else len(self.template)
                if target != slot:
                    self.template.append(None)
                    self.bits.append(bits)
                self.code.append((target, step, acc, arg, -1, bits))
                acc = target
            return
        a, b, c = (*(self.slot[id(x)] for x in node.args), -1, -1)[:3]
        self.code.append((slot, handler, a, b, c, bits))

    def always(self, bits: int = 0) -> dict[int, int]:
        """The nodes every run computes as arrays (with ``bits``, also those every run that
        wants any of ``bits`` computes): what a program over a subset, run only after such a
        run, can inherit."""
        return {key: slot for key, slot in self.slot.items() if self.template[slot] is None
                and (self.bits[slot] & ALWAYS or (bits and self.bits[slot] & bits == bits))}

    def index(self, root: Expr) -> int:
        """Where a run leaves the value of ``root``."""
        return self.slot[id(root)]

    def run(self, leaf: Callable[[str, str], Array], wanted: int = ALWAYS,
            parent: list[Any] | None = None, rows: Array | None = None) -> list[Any]:
        """The value of every node this program computes (an array per state, or a NumPy scalar
        for a constant), for the roots whose bits meet ``wanted``.  ``leaf(op, name)`` reads a
        field; ``parent`` is a run of the inheriting program, and ``rows`` this batch's indices
        into it."""
        slots = self.template.copy()
        if parent is not None:
            for slot, src, bits in self.gathers:
                if bits & wanted:
                    slots[slot] = parent[src][rows]
        for slot, op, name, bits in self.leaves:
            if bits & wanted:
                slots[slot] = leaf(op, name)
        for slot, handler, a, b, c, bits in self.code:
            if bits & wanted:
                slots[slot] = (handler(slots[a]) if b < 0 else handler(slots[a], slots[b]) if c < 0
                               else handler(slots[a], slots[b], slots[c]))
        return slots


_VARIES = object()


def _folded(root: Expr, constant: dict[int, Any]) -> Any:
    """The value of ``root`` if it reads no field (memoised in ``constant`` for every node
    below it, children first, without recursion), else ``_VARIES``."""
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        key = id(node)
        if key in constant:
            continue
        if node.op == "const":
            constant[key] = _lit(node)
        elif node.op in LEAVES:
            constant[key] = _VARIES
        elif not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if id(a) not in constant)
        else:
            args = [constant[id(a)] for a in node.args]
            constant[key] = (_VARIES if any(a is _VARIES for a in args)
                             else reduce(HANDLERS[node.op], args) if node.op in NARY
                             else HANDLERS[node.op](*args))
    return constant[id(root)]


def _same(value: Any) -> Any:
    return value


def full(value: Any, n: int) -> Array:
    """A value a run left (an array, or a scalar for a constant) as an array of length ``n``."""
    if isinstance(value, np.ndarray):
        return value
    return np.full(n, value)


def field_leaf(layout: Layout, batch: Words, post: Mapping[str, Array] | None = None,
               every: bool = False) -> Callable[[str, str], Array]:
    """A leaf reader over ``batch``: ``var`` fields decoded from the words (cached; with
    ``every``, all fields at once on the first read, for a program that reads most of them),
    ``next`` fields from ``post`` where the step wrote them, else equal to ``var``."""
    cache: dict[str, Array] = {}

    def leaf(op: str, name: str) -> Array:
        if op == "next" and post is not None and name in post:
            return post[name]
        if name not in cache:
            if every and not cache:
                cache.update(layout.columns(batch))
            else:
                cache[name] = layout.column(batch, name)
        return cache[name]

    return leaf


class Evaluator:
    """Expressions over ``var`` fields, compiled once and evaluated over any batch of rows as
    full-length arrays, in order."""

    def __init__(self, layout: Layout, exprs: Sequence[Expr]) -> None:
        self.layout = layout
        self.program = Program([(e, ALWAYS) for e in exprs])
        self.slots = [self.program.index(e) for e in exprs]

    def __call__(self, rows: Words) -> list[Array]:
        values = self.program.run(field_leaf(self.layout, rows))
        return [full(values[slot], len(rows)) for slot in self.slots]
