"""The expression language every operation, guard and property is written in.

Expressions are immutable, hash-consed trees over booleans and bounded integers.  The same tree
is compiled to Python for the explicit engine and lowered to Z3 for the symbolic engines, so an
operation has exactly one definition.  Structurally equal expressions are the same object, which
makes common-subexpression sharing free and lets ``is`` serve as structural equality.

Python's ``==`` keeps its identity meaning (expressions are dictionary keys); use ``a.eq(b)`` and
``a.ne(b)`` to build comparisons.  ``&``, ``|``, ``~``, ``+``, ``-``, ``<``, ``<=``, ``>``, ``>=``
build expressions as expected.  Using an expression where Python wants a ``bool`` is an error, so
a Python ``if`` on a symbolic value cannot slip into a model by accident; ``a == b`` gives a
:class:`PythonEquality`, which containers can use but a guard, condition or operand cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

Kind = Literal["bool", "int"]
Value = bool | int

#: Operators of the language.  ``var`` reads the state before a step, ``next`` the state after it
#: (only step properties use ``next``).
OPS = ("const", "var", "next", "not", "and", "or", "ite", "eq", "lt", "le", "add", "sub")


class ModelError(Exception):
    """A model is ill-formed: a type mismatch, an unknown field, an out-of-range value."""


class ExprUseError(ModelError, TypeError):
    """An expression used as a Python value: a Python ``if``/``and``/``or``/``not``, or ``==``."""


TRUTH_ERROR = ("a symbolic expression has no Python truth value (a Python if, and, or, not on "
               "it): write mm.branch(cond, then, otherwise), ite(cond, a, b), &, | or ~")
EQUALITY_ERROR = ("== between expressions is Python's identity test, not a symbolic comparison: "
                  "write a.eq(b) (and a.ne(b) for !=)")

#: How many operation bodies are running now (see :func:`operation_body`).
_IN_BODY = [0]


@contextmanager
def operation_body() -> Iterator[None]:
    """While an operation body runs symbolically, ``if a == b`` on expressions is an error."""
    _IN_BODY[0] += 1
    try:
        yield
    finally:
        _IN_BODY[0] -= 1


class PythonEquality:
    """What ``==``/``!=`` on an expression gives: Python's identity answer, never an expression.

    Hash-consing makes identity structural equality, so ``in``, ``list.index`` and dataclass
    ``==`` still work; but using it as a guard, a condition or an operand raises, and so does
    its truth value inside an operation body, where ``if a == b`` would silently be a test of
    the two trees' identity instead of the symbolic comparison ``a.eq(b)``.
    """

    __slots__ = ("same",)

    def __init__(self, same: bool) -> None:
        self.same = same

    def __bool__(self) -> bool:
        if _IN_BODY[0]:
            raise ExprUseError(EQUALITY_ERROR)
        return self.same

    def _refuse(self, *_: object) -> None:
        raise ExprUseError(EQUALITY_ERROR)

    __and__ = __rand__ = __or__ = __ror__ = __invert__ = __xor__ = __rxor__ = _refuse


class Expr:
    """One node of an expression tree; build nodes with the functions of this module."""

    __slots__ = ("__weakref__", "args", "kind", "op", "payload")

    op: str
    kind: Kind
    args: tuple[Expr, ...]
    payload: object

    def __new__(cls, op: str, kind: Kind, args: tuple[Expr, ...] = (), payload: object = None) -> Expr:
        key = (op, kind, payload, *map(id, args))
        found = _INTERNED.get(key)
        if found is not None:
            return found
        node = object.__new__(cls)
        object.__setattr__(node, "op", op)
        object.__setattr__(node, "kind", kind)
        object.__setattr__(node, "args", args)
        object.__setattr__(node, "payload", payload)
        _INTERNED[key] = node
        return node

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("expressions are immutable")

    def __bool__(self) -> bool:
        raise ExprUseError(TRUTH_ERROR)

    def __eq__(self, other: object) -> PythonEquality:  # type: ignore[override]
        return PythonEquality(self is other)

    def __ne__(self, other: object) -> PythonEquality:  # type: ignore[override]
        return PythonEquality(self is not other)

    def __reduce__(self) -> tuple[object, ...]:
        return (Expr, (self.op, self.kind, self.args, self.payload))

    def __repr__(self) -> str:
        return show(self)

    # Boolean connectives.
    def __and__(self, other: Expr | bool) -> Expr:
        return and_(self, lift(other))

    def __rand__(self, other: Expr | bool) -> Expr:
        return and_(lift(other), self)

    def __or__(self, other: Expr | bool) -> Expr:
        return or_(self, lift(other))

    def __ror__(self, other: Expr | bool) -> Expr:
        return or_(lift(other), self)

    def __invert__(self) -> Expr:
        return not_(self)

    def implies(self, other: Expr | bool) -> Expr:
        return or_(not_(self), lift(other))

    # Comparisons and arithmetic.
    def eq(self, other: Expr | Value) -> Expr:
        return eq(self, lift(other))

    def ne(self, other: Expr | Value) -> Expr:
        return not_(eq(self, lift(other)))

    def __lt__(self, other: Expr | int) -> Expr:
        return lt(self, lift(other))

    def __le__(self, other: Expr | int) -> Expr:
        return le(self, lift(other))

    def __gt__(self, other: Expr | int) -> Expr:
        return lt(lift(other), self)

    def __ge__(self, other: Expr | int) -> Expr:
        return le(lift(other), self)

    def __add__(self, other: Expr | int) -> Expr:
        return add(self, lift(other))

    def __radd__(self, other: Expr | int) -> Expr:
        return add(lift(other), self)

    def __sub__(self, other: Expr | int) -> Expr:
        return sub(self, lift(other))

    def __rsub__(self, other: Expr | int) -> Expr:
        return sub(lift(other), self)

    __hash__ = object.__hash__


#: Every node ever built, for the life of the process: so an id never names another expression,
#: and the memos keyed by ids (the symmetry proofs', the run's decided checks) stay valid.
_INTERNED: dict[tuple[object, ...], Expr] = {}


def const(value: Value) -> Expr:
    """A literal boolean or integer."""
    if isinstance(value, bool):
        return Expr("const", "bool", (), value)
    if isinstance(value, int):
        return Expr("const", "int", (), int(value))
    if isinstance(value, PythonEquality):
        raise ExprUseError(EQUALITY_ERROR)
    raise ModelError(f"not a boolean or integer literal: {value!r}")


TRUE = const(True)
FALSE = const(False)


def lift(value: Expr | Value) -> Expr:
    """Turn a Python literal into a constant expression; expressions pass through."""
    return value if isinstance(value, Expr) else const(value)


def var(name: str, kind: Kind) -> Expr:
    """The value of state field ``name`` before a step."""
    return Expr("var", kind, (), name)


def next_(name: str, kind: Kind) -> Expr:
    """The value of state field ``name`` after a step (for step properties)."""
    return Expr("next", kind, (), name)


def is_const(e: Expr, value: Value | None = None) -> bool:
    """Whether ``e`` is a literal (equal to ``value`` when one is given)."""
    if e.op != "const":
        return False
    return value is None or (e.payload is value if isinstance(value, bool) else e.payload == value)


def _need(e: Expr, kind: Kind, where: str) -> None:
    if e.kind != kind:
        raise ModelError(f"{where}: expected a {kind} expression, got {e.kind}: {show(e)}")


def not_(a: Expr) -> Expr:
    _need(a, "bool", "not")
    if a.op == "const":
        return const(not a.payload)
    if a.op == "not":
        return a.args[0]
    return Expr("not", "bool", (a,))


def _flatten(op: str, items: Iterable[Expr | bool]) -> list[Expr]:
    out: list[Expr] = []
    seen: set[int] = set()
    for raw in items:
        item = lift(raw)
        _need(item, "bool", op)
        parts = item.args if item.op == op else (item,)
        for part in parts:
            if id(part) not in seen:
                seen.add(id(part))
                out.append(part)
    return out


def and_(*items: Expr | bool) -> Expr:
    """Conjunction; absorbs ``TRUE``, collapses on ``FALSE`` or on ``x & ~x``."""
    parts = [p for p in _flatten("and", items) if not is_const(p, True)]
    if any(is_const(p, False) for p in parts):
        return FALSE
    ids = {id(p) for p in parts}
    if any(p.op == "not" and id(p.args[0]) in ids for p in parts):
        return FALSE
    if not parts:
        return TRUE
    if len(parts) == 1:
        return parts[0]
    return Expr("and", "bool", tuple(parts))


def or_(*items: Expr | bool) -> Expr:
    """Disjunction; absorbs ``FALSE``, collapses on ``TRUE`` or on ``x | ~x``."""
    parts = [p for p in _flatten("or", items) if not is_const(p, False)]
    if any(is_const(p, True) for p in parts):
        return TRUE
    ids = {id(p) for p in parts}
    if any(p.op == "not" and id(p.args[0]) in ids for p in parts):
        return TRUE
    if not parts:
        return FALSE
    if len(parts) == 1:
        return parts[0]
    return Expr("or", "bool", tuple(parts))


def all_(items: Iterable[Expr | bool]) -> Expr:
    """Conjunction of an iterable."""
    return and_(*items)


def any_(items: Iterable[Expr | bool]) -> Expr:
    """Disjunction of an iterable."""
    return or_(*items)


def ite(cond: Expr | bool, then: Expr | Value, other: Expr | Value) -> Expr:
    """If-then-else; both branches must have the same kind."""
    c, a, b = lift(cond), lift(then), lift(other)
    _need(c, "bool", "ite condition")
    if a.kind != b.kind:
        raise ModelError(f"ite branches differ in kind: {show(a)} / {show(b)}")
    if c.op == "const":
        return a if c.payload else b
    if a is b:
        return a
    if c.op == "not":
        c, a, b = c.args[0], b, a
    if a.kind == "bool":
        if is_const(a, True):
            return or_(c, b)
        if is_const(a, False):
            return and_(not_(c), b)
        if is_const(b, True):
            return or_(not_(c), a)
        if is_const(b, False):
            return and_(c, a)
    return Expr("ite", a.kind, (c, a, b))


def _indicators(e: Expr) -> list[Expr] | None:
    """The conditions of ``e`` if it is a sum of ``ite(c, 1, 0)`` terms (a count), else None."""
    terms = e.args if e.op == "add" else (e,)
    out = []
    for t in terms:
        if t.op != "ite" or not is_const(t.args[1], 1) or not is_const(t.args[2], 0):
            return None
        out.append(t.args[0])
    return out


#: Counts over at most this many conditions compare as Boolean formulas (pairwise at-most-one).
_COUNT_AS_BOOL = 8


def _at_most_one(conds: Sequence[Expr]) -> Expr:
    return and_(*(not_(and_(conds[i], conds[j]))
                  for i in range(len(conds)) for j in range(i + 1, len(conds))))


def _count_cmp(e: Expr, k: int, how: str) -> Expr | None:
    """``count == k`` / ``count <= k`` for k in (0, 1) as a Boolean formula, when ``e`` is a count.

    page_mapcount() is a count of PTEs; comparing it with 0 or 1 is what the kernel does, and
    as a Boolean formula it is cheaper for Python and far easier for Z3 than integer sums.
    """
    conds = _indicators(e)
    if conds is None or len(conds) > _COUNT_AS_BOOL or k not in (0, 1):
        return None
    none = and_(*(not_(c) for c in conds))
    if k == 0:
        return none
    if how == "le":
        return _at_most_one(conds)
    return and_(or_(*conds), _at_most_one(conds))


def eq(a: Expr, b: Expr) -> Expr:
    """Equality of two booleans or two integers."""
    if a.kind != b.kind:
        raise ModelError(f"eq of different kinds: {show(a)} / {show(b)}")
    if a is b:
        return TRUE
    if a.op == "const" and b.op == "const":
        return const(a.payload == b.payload)
    if a.op == "const":
        a, b = b, a
    if b.op == "const":
        if a.kind == "bool":
            return a if b.payload else not_(a)
        folded = _count_cmp(a, int(b.payload), "eq")  # type: ignore[call-overload]
        if folded is not None:
            return folded
        if (a.op == "ite" and a.args[1].op == "const") or (a.op == "ite" and a.args[2].op == "const"):
            # Push a literal comparison into a selector chain: frame lookups by index build
            # ite chains whose comparison with a literal then folds to a plain condition.
            return ite(a.args[0], eq(a.args[1], b), eq(a.args[2], b))
    return Expr("eq", "bool", (a, b))


def lt(a: Expr, b: Expr) -> Expr:
    """Integer ``a < b``."""
    _need(a, "int", "<")
    _need(b, "int", "<")
    if a.op == "const" and b.op == "const":
        return const(a.payload < b.payload)  # type: ignore[operator]
    if a is b:
        return FALSE
    if a.op == "const":
        # k < count  <=>  not (count <= k)
        folded = _count_cmp(b, int(a.payload), "le")  # type: ignore[call-overload]
        if folded is not None:
            return not_(folded)
    if b.op == "const":
        # count < k  <=>  count <= k - 1
        folded = _count_cmp(a, int(b.payload) - 1, "le")  # type: ignore[call-overload]
        if folded is not None:
            return folded
    return Expr("lt", "bool", (a, b))


def le(a: Expr, b: Expr) -> Expr:
    """Integer ``a <= b``."""
    _need(a, "int", "<=")
    _need(b, "int", "<=")
    if a.op == "const" and b.op == "const":
        return const(a.payload <= b.payload)  # type: ignore[operator]
    if a is b:
        return TRUE
    if b.op == "const":
        folded = _count_cmp(a, int(b.payload), "le")  # type: ignore[call-overload]
        if folded is not None:
            return folded
    if a.op == "const":
        # k <= count  <=>  not (count <= k - 1)
        folded = _count_cmp(b, int(a.payload) - 1, "le")  # type: ignore[call-overload]
        if folded is not None:
            return not_(folded)
    return Expr("le", "bool", (a, b))


def add(*items: Expr | int) -> Expr:
    """Integer sum; literals are folded together."""
    parts: list[Expr] = []
    total = 0
    for raw in items:
        item = lift(raw)
        _need(item, "int", "+")
        for part in item.args if item.op == "add" else (item,):
            if part.op == "const":
                total += part.payload  # type: ignore[operator]
            else:
                parts.append(part)
    if total or not parts:
        parts.append(const(total))
    if len(parts) == 1:
        return parts[0]
    return Expr("add", "int", tuple(parts))


def sub(a: Expr, b: Expr) -> Expr:
    """Integer ``a - b``."""
    _need(a, "int", "-")
    _need(b, "int", "-")
    if b.op == "const":
        return add(a, const(-b.payload))  # type: ignore[operator]
    if a is b:
        return const(0)
    return Expr("sub", "int", (a, b))


def count(conds: Iterable[Expr]) -> Expr:
    """How many of ``conds`` hold, as an integer expression."""
    return add(*(ite(c, 1, 0) for c in conds))


def select(index: Expr, choices: Sequence[Expr | Value]) -> Expr:
    """``choices[index]`` for an integer-valued ``index`` (an ite chain, literal-folded)."""
    if not choices:
        raise ModelError("select from no choices")
    if index.op == "const":
        return lift(choices[int(index.payload)])  # type: ignore[call-overload]
    out = lift(choices[-1])
    for i in range(len(choices) - 2, -1, -1):
        out = ite(index.eq(i), choices[i], out)
    return out


def fields_of(*roots: Expr) -> set[tuple[str, str]]:
    """The ``(op, name)`` of every ``var``/``next`` leaf in the expressions ``roots``."""
    out: set[tuple[str, str]] = set()
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.op in ("var", "next"):
            out.add((node.op, str(node.payload)))
        stack.extend(node.args)
    return out


def substitute(e: Expr, mapping: dict[tuple[str, str], Expr],
               memo: dict[int, Expr] | None = None) -> Expr:
    """Replace ``var``/``next`` leaves named in ``mapping`` (keys as in :func:`fields_of`).

    Several expressions renamed by one mapping can share ``memo``, so that the nodes they
    share are renamed once.
    """
    memo = {} if memo is None else memo

    def walk(node: Expr) -> Expr:
        done = memo.get(id(node))
        if done is not None:
            return done
        if node.op in ("var", "next"):
            out = mapping.get((node.op, str(node.payload)), node)
        elif not node.args:
            out = node
        else:
            out = rebuild(node, [walk(a) for a in node.args])
        memo[id(node)] = out
        return out

    return walk(e)


_BUILDERS: dict[str, Callable[[list[Expr]], Expr]] = {
    "not": lambda a: not_(a[0]),
    "and": lambda a: and_(*a),
    "or": lambda a: or_(*a),
    "ite": lambda a: ite(a[0], a[1], a[2]),
    "eq": lambda a: eq(a[0], a[1]),
    "lt": lambda a: lt(a[0], a[1]),
    "le": lambda a: le(a[0], a[1]),
    "add": lambda a: add(*a),
    "sub": lambda a: sub(a[0], a[1]),
}


def rebuild(node: Expr, args: Sequence[Expr]) -> Expr:
    """The node ``node`` with new children (re-simplified)."""
    return _BUILDERS[node.op](list(args))


_INFIX = {"and": " & ", "or": " | ", "eq": " == ", "lt": " < ", "le": " <= ", "add": " + ", "sub": " - "}


def show(e: Expr, depth: int = 6) -> str:
    """A readable rendering of ``e`` (deep trees are elided)."""
    if e.op == "const":
        return str(e.payload).lower() if e.kind == "bool" else str(e.payload)
    if e.op == "var":
        return str(e.payload)
    if e.op == "next":
        return f"{e.payload}'"
    if depth <= 0:
        return "…"
    parts = [show(a, depth - 1) for a in e.args]
    if e.op == "not":
        return f"~{parts[0]}"
    if e.op == "ite":
        return f"ite({parts[0]}, {parts[1]}, {parts[2]})"
    return "(" + _INFIX[e.op].join(parts) + ")"

