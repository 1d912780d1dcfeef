"""Every operator of the expression language is handled by every lowering.

One example per operator in :data:`numacheck.model.expr.OPS`, with that operator at the root:
the generated Python (explicit engine, traces, replay) and Z3 (symbolic engines) must give the
same value on every state of a small schema, and the Promela export must write it.  A new
operator without an example here fails the first test.
"""

from __future__ import annotations

import itertools

import pytest

from numacheck.checker.lowering.codegen import compile_exprs
from numacheck.checker.lowering.promela import _as_pre_state, _Writer, identifiers
from numacheck.model.expr import OPS, Expr, const, ite, next_, var
from numacheck.model.schema import Schema, bool_field, int_field
from numacheck.model.system import Action
from tests.test_eval_agreement import z3_value

SCHEMA = Schema((bool_field("b"), bool_field("c"), int_field("n", 0, 3), int_field("m", -1, 2)))
B, C, N, M = var("b", "bool"), var("c", "bool"), var("n", "int"), var("m", "int")

EXAMPLES: dict[str, Expr] = {
    "const": const(2),
    "var": N,
    "next": next_("n", "int"),
    "not": ~B,
    "and": B & C,
    "or": B | C,
    "ite": ite(B, N, M),
    "eq": N.eq(M),
    "lt": N < M,
    "le": N <= M,
    "add": N + M,
    "sub": N - M,
}


def every_state() -> list[dict[str, bool | int]]:
    return [dict(zip(("b", "c", "n", "m"), values, strict=True))
            for values in itertools.product((False, True), (False, True), range(4), range(-1, 3))]


def test_every_operator_has_an_example_with_it_at_the_root() -> None:
    assert set(EXAMPLES) == set(OPS)
    for op, e in EXAMPLES.items():
        assert e.op == op


@pytest.mark.parametrize("op", OPS)
def test_python_and_z3_agree(op: str) -> None:
    e = EXAMPLES[op]
    evaluate = compile_exprs(SCHEMA, [e])
    states = every_state()
    for pre, post in zip(states, reversed(states), strict=True):
        got = evaluate(SCHEMA.pack(pre), SCHEMA.pack(post))[0]
        assert got == z3_value(SCHEMA, e, pre, post), (op, pre, post)


@pytest.mark.parametrize("op", OPS)
def test_promela_writes_it(op: str) -> None:
    # a step check reads the state after the step; Promela sees it through the action's updates
    action = Action("step", (), const(True), (("n", N + 1),))
    e = _as_pre_state(EXAMPLES[op], action, SCHEMA)
    names = identifiers(SCHEMA)
    text = _Writer(names).text(e)
    assert text
    if op == "next":
        assert text == f"({names['n']} + 1)"
