"""Expressions lowered to NumPy: one value per state for a whole batch of states at once.

The explicit engine evaluates every guard, update and property over a BFS level as arrays:
booleans as ``bool`` arrays, integers as ``int16`` arrays (every field range and literal of the
model is tiny), literals as NumPy scalars that broadcast.  Each node of the hash-consed
expression DAG is computed once per batch; a batch that is a subset of another (the states an
action is enabled in) gathers the values its parent already computed instead of recomputing them.
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

    def word_bits(self, name: str, values: Array) -> Array:
        """Field values shifted into place within their word (uint64)."""
        f = self.schema[name]
        _, off = self.place[name]
        if f.kind == "bool":
            bits: Array = np.where(values, np.uint64(1 << off), np.uint64(0))
            return bits
        raw = values.astype(np.uint64) if f.lo == 0 else (values - INT(f.lo)).astype(np.uint64)
        return raw << np.uint64(off) if off else raw


def _lit(e: Expr) -> Any:
    value = e.payload
    if isinstance(value, bool):
        return np.bool_(value)
    assert isinstance(value, int)
    if abs(value) >= _INT_LIMIT:
        raise ModelError(f"literal {value} is outside the range the array engine supports")
    return INT(value)


def _and(args: list[Any]) -> Any:
    return reduce(np.logical_and, args)


def _or(args: list[Any]) -> Any:
    return reduce(np.logical_or, args)


def _add(args: list[Any]) -> Any:
    return reduce(np.add, args)


#: One handler per operator of the expression language (``const``, ``var`` and ``next`` are
#: leaves and handled by :class:`Values` itself).
HANDLERS: dict[str, Callable[[list[Any]], Any]] = {
    "not": lambda a: np.logical_not(a[0]),
    "and": _and,
    "or": _or,
    "ite": lambda a: np.where(a[0], a[1], a[2]),
    "eq": lambda a: np.equal(a[0], a[1]),
    "lt": lambda a: np.less(a[0], a[1]),
    "le": lambda a: np.less_equal(a[0], a[1]),
    "add": _add,
    "sub": lambda a: np.subtract(a[0], a[1]),
}
LEAVES = ("const", "var", "next")
assert set(HANDLERS) | set(LEAVES) == set(OPS), "every operator needs an array handler"


class Values:
    """Values of expressions over one batch of ``n`` states, each node computed once.

    ``leaf(op, name)`` gives a field column (``var``: before the step, ``next``: after it).
    With a ``parent`` and an ``index``, this batch is ``parent``'s states at ``index``: nodes
    the parent has computed are gathered rather than recomputed.
    """

    def __init__(self, n: int, leaf: Callable[[str, str], Array],
                 parent: Values | None = None, index: Array | None = None,
                 orders: dict[int, list[Expr]] | None = None) -> None:
        self.n = n
        self.leaf = leaf
        self.parent = parent
        self.index = index
        self.memo: dict[int, Any] = {}
        self.orders: dict[int, list[Expr]] = (
            orders if orders is not None else parent.orders if parent is not None else {})

    def _order(self, root: Expr) -> list[Expr]:
        """The nodes below ``root``, children first (computed once per root, then cached)."""
        found = self.orders.get(id(root))
        if found is None:
            found, seen = [], set()
            stack: list[tuple[Expr, bool]] = [(root, False)]
            while stack:
                node, ready = stack.pop()
                if ready:
                    found.append(node)
                elif id(node) not in seen:
                    seen.add(id(node))
                    stack.append((node, True))
                    stack.extend((a, False) for a in node.args)
            self.orders[id(root)] = found
        return found

    def __call__(self, root: Expr) -> Any:
        """The value of ``root``: an array of length n, or a NumPy scalar if it is constant."""
        memo = self.memo
        if id(root) in memo:
            return memo[id(root)]
        if self.parent is None:
            for node in self._order(root):
                if id(node) not in memo:
                    memo[id(node)] = self._compute(node)
            return memo[id(root)]
        # A subset: look at a node before its children, so that what the parent computed is
        # gathered whole instead of rebuilt from its parts.
        stack: list[tuple[Expr, bool]] = [(root, False)]
        while stack:
            node, ready = stack.pop()
            key = id(node)
            if key in memo:
                continue
            if ready:
                memo[key] = self._compute(node)
                continue
            inherited = self._inherited(node)
            if inherited is not None:
                memo[key] = inherited
            elif not node.args:
                memo[key] = self._compute(node)
            else:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if id(a) not in memo)
        return memo[id(root)]

    def _compute(self, node: Expr) -> Any:
        if node.op == "const":
            return _lit(node)
        if node.op in LEAVES:
            return self.leaf(node.op, str(node.payload))
        return HANDLERS[node.op]([self.memo[id(a)] for a in node.args])

    def _inherited(self, node: Expr) -> Any | None:
        parent = self.parent
        if parent is None or node.op == "next":
            return None
        value = parent.memo.get(id(node))
        if value is None:
            return None
        if isinstance(value, np.ndarray):
            return value[self.index]
        return value

    def mask(self, e: Expr) -> Array:
        """A boolean expression as a full-length array."""
        value = self(e)
        if isinstance(value, np.ndarray):
            return value
        return np.full(self.n, bool(value))

    def ints(self, e: Expr) -> Array:
        """An integer (or boolean) expression as a full-length array."""
        value = self(e)
        if isinstance(value, np.ndarray):
            return value
        return np.full(self.n, value)


def field_leaf(layout: Layout, batch: Words,
               post: Mapping[str, Array] | None = None) -> Callable[[str, str], Array]:
    """A leaf reader over ``batch``: ``var`` fields decoded from the words (cached), ``next``
    fields from ``post`` where the step wrote them, else equal to ``var``."""
    cache: dict[str, Array] = {}

    def leaf(op: str, name: str) -> Array:
        if op == "next" and post is not None and name in post:
            return post[name]
        if name not in cache:
            cache[name] = layout.column(batch, name)
        return cache[name]

    return leaf
