"""Lower model expressions to Z3 terms, for the symbolic engines.

Booleans become Z3 ``Bool`` and integers (enums included) Z3 ``Int``; each state field gets one
variable per step.  :func:`domain` gives the range constraints of a state copy, so Z3 only sees
states the explicit engine could pack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import z3

from numacheck.model.expr import Expr, ModelError
from numacheck.model.schema import Schema

Env = Mapping[tuple[str, str], z3.ExprRef]


def state_vars(schema: Schema, tag: str, ctx: z3.Context | None = None) -> dict[str, z3.ExprRef]:
    """One Z3 variable per field, named ``field@tag``."""
    out: dict[str, z3.ExprRef] = {}
    for f in schema.fields:
        name = f"{f.name}@{tag}"
        out[f.name] = z3.Bool(name, ctx) if f.kind == "bool" else z3.Int(name, ctx)
    return out


def domain(schema: Schema, state: Mapping[str, z3.ExprRef]) -> list[z3.BoolRef]:
    """Range constraints of one state copy (integers only; booleans need none)."""
    out: list[z3.BoolRef] = []
    for f in schema.fields:
        if f.kind == "int":
            v = state[f.name]
            out.append(v >= f.lo)
            out.append(v <= f.hi)
    return out


def env(pre: Mapping[str, z3.ExprRef],
        post: Mapping[str, z3.ExprRef] | None = None) -> dict[tuple[str, str], z3.ExprRef]:
    """An environment reading ``var`` from ``pre`` and ``next`` from ``post``."""
    out = {("var", k): v for k, v in pre.items()}
    if post is not None:
        out.update({("next", k): v for k, v in post.items()})
    return out


class Lowering:
    """Lowers expressions under one environment, sharing the Z3 terms of shared subtrees."""

    def __init__(self, environment: Env, ctx: z3.Context | None = None) -> None:
        self.env = environment
        self.ctx = ctx
        self.memo: dict[int, z3.ExprRef] = {}

    def __call__(self, e: Expr) -> z3.ExprRef:
        """The Z3 term of ``e``."""
        stack: list[tuple[Expr, bool]] = [(e, False)]
        memo = self.memo
        while stack:
            node, ready = stack.pop()
            if id(node) in memo:
                continue
            if not ready and node.args:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if id(a) not in memo)
                continue
            memo[id(node)] = self._one(node, [memo[id(a)] for a in node.args])
        return memo[id(e)]

    def _one(self, node: Expr, a: list[z3.ExprRef]) -> z3.ExprRef:
        op = node.op
        if op == "const":
            if node.kind == "bool":
                return z3.BoolVal(bool(node.payload), self.ctx)
            return z3.IntVal(int(node.payload), self.ctx)  # type: ignore[call-overload]
        if op in ("var", "next"):
            try:
                return self.env[(op, str(node.payload))]
            except KeyError:
                raise ModelError(f"no Z3 variable for {op} {node.payload}") from None
        build = _OPS.get(op)
        if build is None:
            raise ModelError(f"cannot lower operator {op}")
        return build(a)


_OPS: dict[str, Callable[[list[z3.ExprRef]], z3.ExprRef]] = {
    "not": lambda a: z3.Not(a[0]),
    "and": lambda a: z3.And(*a),
    "or": lambda a: z3.Or(*a),
    "ite": lambda a: z3.If(a[0], a[1], a[2]),
    "eq": lambda a: a[0] == a[1],
    "lt": lambda a: a[0] < a[1],
    "le": lambda a: a[0] <= a[1],
    "add": lambda a: z3.Sum(*a),
    "sub": lambda a: a[0] - a[1],
}
