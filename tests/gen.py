"""Hypothesis strategies: schemas, states, expressions and whole transition systems."""

from __future__ import annotations

from hypothesis import strategies as st

from numacheck.model.expr import TRUE, Expr, add, and_, const, ite, le, lt, not_, or_, sub
from numacheck.model.schema import Field, Schema, Value, bool_field, int_field
from numacheck.model.system import Action, Obligation, TransitionSystem


@st.composite
def schemas(draw: st.DrawFn, max_fields: int = 5) -> Schema:
    """A schema of 1..max_fields booleans and small integer ranges."""
    n = draw(st.integers(1, max_fields))
    fields: list[Field] = []
    for i in range(n):
        if draw(st.booleans()):
            fields.append(bool_field(f"b{i}"))
        else:
            lo = draw(st.integers(-2, 2))
            fields.append(int_field(f"i{i}", lo, lo + draw(st.integers(0, 4))))
    return Schema(tuple(fields))


@st.composite
def states(draw: st.DrawFn, schema: Schema) -> dict[str, Value]:
    """A state of ``schema``."""
    return {f.name: draw(st.booleans()) if f.kind == "bool" else draw(st.integers(f.lo, f.hi))
            for f in schema.fields}


def expressions(schema: Schema, kind: str = "bool", with_next: bool = False, depth: int = 4
                ) -> st.SearchStrategy[Expr]:
    """Expressions of ``kind`` over ``schema`` (``next`` leaves too, if asked)."""
    leaves_b = [schema.var(f.name) for f in schema.fields if f.kind == "bool"]
    leaves_i = [schema.var(f.name) for f in schema.fields if f.kind == "int"]
    if with_next:
        leaves_b += [schema.next(f.name) for f in schema.fields if f.kind == "bool"]
        leaves_i += [schema.next(f.name) for f in schema.fields if f.kind == "int"]
    bool_leaf = st.sampled_from(leaves_b) if leaves_b else st.just(TRUE)
    bool_leaf = st.one_of(bool_leaf, st.booleans().map(const))
    int_leaf = st.one_of(st.integers(-3, 6).map(const), *([st.sampled_from(leaves_i)] if leaves_i else []))

    def extend(children: st.SearchStrategy[tuple[Expr, Expr]]) -> st.SearchStrategy[tuple[Expr, Expr]]:
        def combos(pair: tuple[Expr, Expr]) -> st.SearchStrategy[tuple[Expr, Expr]]:
            b, i = pair
            return st.tuples(
                st.sampled_from([b, not_(b), and_(b, pair[0]), or_(b, not_(b))]),
                st.just(i),
            )

        return st.one_of(
            st.tuples(children, children).map(lambda p: (and_(p[0][0], p[1][0]), add(p[0][1], p[1][1]))),
            st.tuples(children, children).map(lambda p: (or_(p[0][0], not_(p[1][0])), sub(p[0][1], p[1][1]))),
            st.tuples(children, children, children).map(
                lambda p: (ite(p[0][0], p[1][0], p[2][0]), ite(p[0][0], p[1][1], p[2][1]))),
            st.tuples(children, children).map(lambda p: (lt(p[0][1], p[1][1]), p[0][1])),
            st.tuples(children, children).map(
                lambda p: (le(p[0][1], p[1][1]) | p[0][1].eq(p[1][1]), p[1][1])),
            st.tuples(children, children).map(lambda p: (p[0][0].eq(p[1][0]), p[1][1])),
            children.flatmap(combos),
        )

    pairs = st.recursive(st.tuples(bool_leaf, int_leaf), extend, max_leaves=depth * 3)
    return pairs.map(lambda p: p[0] if kind == "bool" else p[1])


def clamp(e: Expr, f: Field) -> Expr:
    """``e`` forced into the range of integer field ``f``."""
    return ite(lt(e, const(f.lo)), const(f.lo), ite(lt(const(f.hi), e), const(f.hi), e))


@st.composite
def actions(draw: st.DrawFn, schema: Schema, name: str) -> Action:
    """A guarded command over ``schema``: a guard, and an update of some of the fields."""
    guard = draw(expressions(schema, "bool", depth=2))
    updates = []
    for f in schema.fields:
        if draw(st.booleans()):
            e = draw(expressions(schema, f.kind, depth=2))
            updates.append((f.name, e if f.kind == "bool" else clamp(e, f)))
    return Action(name, (), guard, tuple(updates))


@st.composite
def obligations(draw: st.DrawFn, ts: TransitionSystem) -> list[Obligation]:
    """One invariant and one step property of ``ts``, each with a situation."""
    schema = ts.schema
    inv = Obligation("inv", "random invariant", invariant=draw(expressions(schema, "bool", depth=2)),
                     sometimes=draw(expressions(schema, "bool", depth=2)), situation_text="random")
    idx = draw(st.integers(0, len(ts.actions) - 1))
    step = Obligation("step", "random step property",
                      steps=((idx, draw(expressions(schema, "bool", with_next=True, depth=2))),),
                      situation_steps=((idx, draw(expressions(schema, "bool", with_next=True, depth=2))),),
                      situation_text="random")
    return [inv, step]


@st.composite
def systems(draw: st.DrawFn, max_fields: int = 4,
            max_actions: int = 5) -> tuple[TransitionSystem, list[Obligation]]:
    """A random transition system with one invariant and one step property."""
    schema = draw(schemas(max_fields))
    acts = [draw(actions(schema, f"op{k}")) for k in range(draw(st.integers(1, max_actions)))]
    ts = TransitionSystem("random", schema, (draw(states(schema)),), tuple(acts))
    return ts, draw(obligations(ts))


@st.composite
def families(draw: st.DrawFn, max_systems: int = 4) -> list[tuple[TransitionSystem, list[Obligation]]]:
    """Systems over one schema, as a model's eras are: each has some of a common pool of
    actions (the same objects), in its own order, its own initial states and properties."""
    schema = draw(schemas(4))
    pool = [draw(actions(schema, f"op{k}")) for k in range(draw(st.integers(1, 6)))]
    out = []
    for i in range(draw(st.integers(2, max_systems))):
        acts = draw(st.permutations(pool))[:draw(st.integers(1, len(pool)))]
        init = tuple(draw(st.lists(states(schema), min_size=1, max_size=2)))
        ts = TransitionSystem(f"era{i}", schema, init, tuple(acts))
        out.append((ts, draw(obligations(ts))))
    return out
