"""Concrete evaluation (generated Python) and Z3 evaluation agree on every expression.

The explicit engine evaluates compiled Python, the symbolic engines Z3 terms; both come from
one expression tree.  Hypothesis generates schemas, expressions and states and compares the two
evaluations; the same is then done for every guard and update of a real model.
"""

from __future__ import annotations

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from numacheck.checker.lowering.codegen import compile_exprs
from numacheck.checker.lowering.z3lower import Lowering, env, state_vars
from numacheck.model.expr import Expr
from numacheck.model.schema import Schema, Value
from tests.gen import expressions, schemas, states


def z3_value(schema: Schema, e: Expr, pre: dict[str, Value], post: dict[str, Value]) -> Value:
    """Evaluate ``e`` with Z3 on concrete states."""
    x = state_vars(schema, "pre")
    y = state_vars(schema, "post")
    solver = z3.Solver()
    for values, vs in ((pre, x), (post, y)):
        for name, v in values.items():
            solver.add(vs[name] == (z3.BoolVal(bool(v)) if isinstance(v, bool) else z3.IntVal(v)))
    term = Lowering(env(x, y))(e)
    assert solver.check() == z3.sat
    value = solver.model().eval(term, model_completion=True)
    return z3.is_true(value) if e.kind == "bool" else value.as_long()


@settings(max_examples=200)
@given(st.data())
def test_python_and_z3_agree_on_generated_expressions(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    e = data.draw(expressions(schema, with_next=True))
    pre = data.draw(states(schema))
    post = data.draw(states(schema))
    py = compile_exprs(schema, [e])(schema.pack(pre), schema.pack(post))[0]
    assert py == z3_value(schema, e, pre, post)


def test_python_and_z3_agree_on_the_real_model() -> None:
    import random

    from numacheck.model.instance import Instance
    from numacheck.model.variant import build
    from numacheck.model.variants import BUILTIN

    rng = random.Random(7)
    inst = Instance(processes=2, pages=1, nodes=2)
    for variant in BUILTIN.values():
        ts = build(variant, inst)
        exprs = [a.guard for a in ts.actions] + [e for a in ts.actions for _, e in a.updates]
        evaluate = compile_exprs(ts.schema, exprs)
        # one random state per era (18 eras: every rule row is evaluated on some state)
        pre = {f.name: (rng.random() < 0.5) if f.kind == "bool" else rng.randint(f.lo, f.hi)
               for f in ts.schema.fields}
        py = evaluate(ts.schema.pack(pre))
        x = state_vars(ts.schema, "s")
        lower = Lowering(env(x))
        subst = [(x[k], z3.BoolVal(v) if isinstance(v, bool) else z3.IntVal(v)) for k, v in pre.items()]
        for e, want in zip(exprs, py, strict=True):
            got = z3.simplify(z3.substitute(lower(e), *subst))
            assert (z3.is_true(got) if e.kind == "bool" else got.as_long()) == want
