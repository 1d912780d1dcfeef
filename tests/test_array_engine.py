"""The level-synchronous array engine against the plain reference search, on generated systems
(one and several words per state), and its parts: the array lowering, the visited set."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from numacheck.checker.engines.explicit import explore
from numacheck.checker.engines.visited import Visited, sort_unique, sort_unique_masked
from numacheck.checker.lowering.arrays import ALWAYS, HANDLERS, LEAVES, Layout, Program, field_leaf, full
from numacheck.checker.lowering.codegen import compile_exprs, compile_system
from numacheck.checker.traces.replay import replay, violates
from numacheck.model.expr import OPS
from numacheck.model.schema import Schema, int_field
from numacheck.model.system import Obligation, TransitionSystem
from tests.gen import expressions, schemas, states, systems
from tests.reference import reference_search


def test_every_operator_has_an_array_handler() -> None:
    assert set(HANDLERS) | set(LEAVES) == set(OPS)


@settings(max_examples=100)
@given(st.data())
def test_arrays_and_python_agree_on_generated_expressions(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    e = data.draw(expressions(schema, data.draw(st.sampled_from(["bool", "int"])), with_next=True))
    pairs = [(data.draw(states(schema)), data.draw(states(schema))) for _ in range(4)]
    layout = Layout(schema)
    pre = layout.rows([schema.pack(a) for a, _ in pairs])
    post_rows = layout.rows([schema.pack(b) for _, b in pairs])
    post = {f.name: layout.column(post_rows, f.name) for f in schema.fields}
    program = Program([(e, ALWAYS)])
    got = full(program.run(field_leaf(layout, pre, post))[program.index(e)], len(pairs))
    evaluate = compile_exprs(schema, [e])
    want = [evaluate(schema.pack(a), schema.pack(b))[0] for a, b in pairs]
    assert [bool(v) if e.kind == "bool" else int(v) for v in got] == want


def padded(ts: TransitionSystem) -> TransitionSystem:
    """``ts`` with five unused 14-bit fields in front, so a state needs two words."""
    pad = tuple(int_field(f"pad{k}", 0, 2**14 - 1) for k in range(5))
    return TransitionSystem(ts.name, Schema(pad + ts.schema.fields), ts.init, ts.actions)


def check_against_reference(ts: TransitionSystem, obligations: list[Obligation]) -> None:
    ref = reference_search(ts, obligations)
    outs = explore(ts, obligations)
    compiled = compile_system(ts, obligations)
    for j, out in enumerate(outs):
        assert out.verdict == ref.verdicts[j], (j, out.verdict, ref.verdicts[j])
        if out.verdict == "violated":
            assert out.path is not None and out.depth == ref.depths[j] == len(out.path) - 1
            replay(ts, compiled, out.path)
            assert violates(compiled, j, out.path)
        else:
            assert out.stats.states == ref.states


@settings(max_examples=50, deadline=None)
@given(systems())
def test_array_engine_matches_the_reference_search(system: tuple[TransitionSystem, list[Obligation]]) -> None:
    check_against_reference(*system)


@settings(max_examples=20, deadline=None)
@given(systems())
def test_multi_word_states_give_the_same_answers(system: tuple[TransitionSystem, list[Obligation]]) -> None:
    ts, obligations = system
    wide = padded(ts)
    assert Layout(wide.schema).words == 2
    check_against_reference(wide, obligations)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**64 - 1)), max_size=40),
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**64 - 1)), max_size=40))
def test_visited_set_is_a_set_of_rows(first: list[tuple[int, int]], second: list[tuple[int, int]]) -> None:
    for words in (1, 2):
        def rows(items: list[tuple[int, int]], words: int = words) -> np.ndarray:
            data = [(a, b) if words == 2 else (b,) for a, b in items]
            return np.array(data, dtype=np.uint64).reshape(-1, words)

        seen = Visited(words)
        a = sort_unique(rows(first))
        seen.add(seen.new(a))
        b = sort_unique(rows(second))
        fresh = seen.new(b)
        as_set = {tuple(r) for r in a.tolist()}
        assert {tuple(r) for r in fresh.tolist()} == {tuple(r) for r in b.tolist()} - as_set
        seen.add(fresh)
        assert {tuple(r) for r in seen.rows.tolist()} == as_set | {tuple(r) for r in b.tolist()}
        assert [tuple(r) for r in seen.rows.tolist()] == sorted(tuple(r) for r in seen.rows.tolist())
        assert 8 * words * len(seen) <= seen.nbytes <= 8 * words * (len(seen) * 5 // 4 + 1)


@settings(max_examples=100)
@given(st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(1, 15)), max_size=30),
                max_size=8))
def test_a_visited_set_with_masks_keeps_per_row_the_systems_that_visited_it(
        levels: list[list[tuple[int, int, int]]]) -> None:
    """Level after level of (row, systems) candidates, with one and two words: the rows new
    to some of their systems come back with exactly those, and the set holds per row the union
    of the systems that visited it."""
    for words in (1, 2):
        seen, union = Visited(words, masked=True), {}
        for level in levels:
            rows = np.array([(a, b) if words == 2 else (4 * a + b,) for a, b, _ in level],
                            dtype=np.uint64).reshape(-1, words)
            masks = np.array([m for _, _, m in level], dtype=np.uint64)
            rows, masks = sort_unique_masked(rows, masks)
            joined: dict[tuple[int, ...], int] = {}
            for (a, b, m) in level:
                key = (a, b) if words == 2 else (4 * a + b,)
                joined[key] = joined.get(key, 0) | m
            assert {tuple(r): int(m) for r, m in zip(rows.tolist(), masks, strict=True)} == joined
            fresh, bits, stored = seen.new_masked(rows, masks)
            want = {k: m & ~union.get(k, 0) for k, m in joined.items() if m & ~union.get(k, 0)}
            got = {tuple(r): int(m) for r, m in zip(fresh.tolist(), bits, strict=True)}
            assert got == want
            assert [tuple(r) in union for r in fresh.tolist()] == stored.tolist()
            seen.add_masked(fresh, bits)
            for k, m in want.items():
                union[k] = union.get(k, 0) | m
            assert seen.masks is not None
            assert {tuple(r): int(m) for r, m in zip(seen.rows.tolist(), seen.masks, strict=True)} == union
            assert [tuple(r) for r in seen.rows.tolist()] == sorted(union)


@settings(max_examples=100)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=30), max_size=12))
def test_levels_merged_into_the_buffer_give_the_sorted_union(levels: list[list[int]]) -> None:
    """Level after level merged in place into the visited set's growing buffer: its rows are the
    sorted union, and the buffer holds at most a quarter more rows than that (and one)."""
    seen, union = Visited(1), set()
    for level in levels:
        fresh = seen.new(sort_unique(np.array(level, dtype=np.uint64).reshape(-1, 1)))
        seen.add(fresh)
        union |= set(level)
        assert seen.rows.tolist() == [[v] for v in sorted(union)]
        assert 8 * len(seen) <= seen.nbytes <= 8 * (len(seen) * 5 // 4 + 1)


@settings(max_examples=50)
@given(st.data())
def test_decoding_every_field_at_once_reads_what_each_field_alone_reads(data: st.DataObject) -> None:
    schema = data.draw(schemas())
    if data.draw(st.booleans()):  # and a layout of several words
        schema = Schema(tuple(int_field(f"pad{k}", -3, 2**14 - 4) for k in range(5)) + schema.fields)
    layout = Layout(schema)
    rows = layout.rows([schema.pack(data.draw(states(schema))) for _ in range(5)])
    every = layout.columns(rows)
    assert set(every) == {f.name for f in schema.fields}
    for f in schema.fields:
        alone = layout.column(rows, f.name)
        assert every[f.name].dtype == alone.dtype and np.array_equal(every[f.name], alone), f.name


def test_a_deep_expression_compiles_without_recursion() -> None:
    """A chain of 3,000 nested ite (deeper than Python's recursion limit) evaluates."""
    from numacheck.model.expr import ite

    schema = Schema((int_field("x", 0, 3),))
    x = schema.var("x")
    e = x
    for i in range(3000):
        e = ite(x.eq(i % 4), e + 0, x)
    program = Program([(e, ALWAYS)])
    layout = Layout(schema)
    rows = layout.rows([schema.pack({"x": v}) for v in range(4)])
    assert list(full(program.run(field_leaf(layout, rows))[program.index(e)], 4)) == [0, 1, 2, 3]


def test_and_and_or_read_negations_through_with_the_same_values() -> None:
    """An ``and`` or ``or`` computes a negated argument as ``x > y`` / ``x >= y`` instead of
    negating first: every value equals the Python lowering's on every state, the negations no
    other node needs cost no instruction, and one that is a root is still computed."""
    from numacheck.model.expr import and_, not_, or_
    from numacheck.model.schema import bool_field

    schema = Schema(tuple(bool_field(n) for n in "abcd"))
    a, b, c, d = (schema.var(n) for n in "abcd")
    exprs = [and_(a, not_(b)), or_(not_(a), not_(b)), and_(not_(a), not_(c), d),
             or_(c, not_(a), b, not_(d)), and_(not_(d), c), not_(d)]
    program = Program([(e, ALWAYS) for e in exprs])
    layout = Layout(schema)
    states = [{n: bool(s >> k & 1) for k, n in enumerate("abcd")} for s in range(16)]
    rows = layout.rows([schema.pack(s) for s in states])
    slots = program.run(field_leaf(layout, rows))
    evaluate = compile_exprs(schema, exprs)
    for i, s in enumerate(states):
        want = evaluate(schema.pack(s), schema.pack(s))
        assert [bool(full(slots[program.index(e)], 16)[i]) for e in exprs] == want
    negations = sum(1 for _, handler, *_ in program.code if handler is HANDLERS["not"])
    assert negations == 2  # not(d), a root; not(a) in or(not a, not b), which has nothing else
